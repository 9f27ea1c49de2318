"""``python -m ebok_auth`` / ``ebok-auth``: serve, migrate, dlq list|redrive."""

from ebok_shared.cli import main as run

from .app import SPEC, create_app
from .settings import AuthSettings


def main() -> None:
    run(SPEC, AuthSettings, create_app)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
