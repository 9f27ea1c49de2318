"""``python -m ebok_correspondence`` / ``ebok-correspondence``: serve, migrate, dlq list|redrive."""

from ebok_shared.cli import main as run

from .app import SPEC, create_app
from .settings import CorrespondenceSettings


def main() -> None:
    run(SPEC, CorrespondenceSettings, create_app)


if __name__ == "__main__":
    main()
