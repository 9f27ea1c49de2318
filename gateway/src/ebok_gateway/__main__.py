"""``python -m ebok_gateway`` / ``ebok-gateway``: serve, migrate, dlq list|redrive."""

from ebok_shared.cli import main as run

from .app import SPEC, create_app
from .settings import GatewaySettings


def main() -> None:
    run(SPEC, GatewaySettings, create_app)


if __name__ == "__main__":
    main()
