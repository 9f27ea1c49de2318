"""``python -m ebok_auth`` / ``ebok-auth``: serve, migrate, dlq list|redrive, and auth's own
``create-admin --login L --email E`` (the first admin) and ``rotate-key`` (database keys)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from ebok_shared import db
from ebok_shared.cli import main as run
from ebok_shared.config import ConfigError
from ebok_shared.service import migration_folders

from .app import SPEC, create_app
from .keys import KeyRing
from .passwords import Hasher
from .settings import AuthSettings
from .use_cases.operators import create

OWN_COMMANDS = ("create-admin", "rotate-key")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in OWN_COMMANDS:
        _own(argv)
        return
    run(SPEC, AuthSettings, create_app, argv)  # type: ignore[arg-type]


def _own(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="ebok-auth")
    sub = parser.add_subparsers(dest="command", required=True)
    admin = sub.add_parser(
        "create-admin",
        help="create an admin operator; prints the generated password and TOTP key once",
    )
    admin.add_argument("--login", required=True)
    admin.add_argument("--email", required=True)
    sub.add_parser("rotate-key", help="new database signing key (when EBOK_SIGNING_KEYS is unset)")
    args = parser.parse_args(argv)
    try:
        settings = AuthSettings.from_env()
    except ConfigError as exc:
        print(f"ebok-auth: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    asyncio.run(_run(args, settings))


async def _run(args: argparse.Namespace, settings: AuthSettings) -> None:
    pool = await db.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            await db.migrate(conn, migration_folders(SPEC))
        if args.command == "create-admin":
            hasher = Hasher(settings)
            try:
                created = await create(
                    pool,
                    hasher,
                    login=args.login,
                    email=args.email,
                    roles=["admin", "operator"],
                    by="system:cli",
                    settings=settings,
                )
            finally:
                hasher.close()
            # Printed to the terminal of whoever ran the command, never logged.
            print(f"login:            {created['login']}")
            print(f"initial password: {created['initial_password']} (change at first login)")
            print(f"TOTP key:         {created['totp_secret']}")
            print(f"TOTP URI:         {created['otpauth_uri']}")
        else:
            kid = await KeyRing(settings).rotate(pool)
            print(f"ebok-auth: new signing key {kid}")
    finally:
        await pool.close()


if __name__ == "__main__":
    main()
