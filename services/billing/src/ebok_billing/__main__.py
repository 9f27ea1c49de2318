"""``python -m ebok_billing`` / ``ebok-billing``: serve, migrate, dlq list|redrive, and
billing's own ``feed FILE…``."""

import sys

from ebok_shared.cli import main as run

from .app import SPEC, create_app
from .settings import BillingSettings


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "feed":
        from . import tools

        raise SystemExit(tools.main(args))
    run(SPEC, BillingSettings, create_app, args)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
