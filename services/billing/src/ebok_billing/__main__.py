"""``python -m ebok_billing`` / ``ebok-billing``: serve, migrate, dlq list|redrive."""

from ebok_shared.cli import main as run

from .app import SPEC, create_app
from .settings import BillingSettings


def main() -> None:
    run(SPEC, BillingSettings, create_app)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
