"""``python -m ebok_billing`` / ``ebok-billing``: serve, migrate, dlq list|redrive, and
billing's own ``feed FILE…``."""

import dataclasses

from ebok_shared.cli import main as run

from .app import SPEC, create_app
from .settings import BillingSettings
from .tools import COMMANDS


def main(argv: list[str] | None = None) -> None:
    run(dataclasses.replace(SPEC, commands=COMMANDS), BillingSettings, create_app, argv)


if __name__ == "__main__":
    main()
