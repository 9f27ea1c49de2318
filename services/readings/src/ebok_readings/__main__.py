"""``python -m ebok_readings`` / ``ebok-readings``: serve, migrate, dlq list|redrive."""

from ebok_shared.cli import main as run

from .app import SPEC, create_app
from .settings import ReadingsSettings


def main() -> None:
    run(SPEC, ReadingsSettings, create_app)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
