"""``python -m ebok_notifier`` / ``ebok-notifier``: serve, migrate, dlq list|redrive."""

from ebok_shared.cli import main as run

from .app import SPEC, create_app
from .settings import NotifierSettings


def main() -> None:
    run(SPEC, NotifierSettings, create_app)


if __name__ == "__main__":
    main()
