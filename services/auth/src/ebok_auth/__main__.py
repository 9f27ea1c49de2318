"""``python -m ebok_auth`` / ``ebok-auth``: serve, migrate, dlq list|redrive, and auth's own
``create-admin --login L --email E [--roles admin,…]`` (the first admin), ``rotate-key``
(database keys) and ``verify-audit`` (the audit log's hash chain)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from collections.abc import Callable

from ebok_shared import db
from ebok_shared.cli import main as run
from ebok_shared.http.roles import ADMIN, ROLES
from ebok_shared.service import Command, migration_folders

from .app import SPEC, create_app
from .audit_seal import seal_of
from .keys import KeyRing
from .passwords import Hasher
from .settings import AuthSettings
from .use_cases.audit import install_seal, verify_chain
from .use_cases.operators import create


def _create_admin_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--login", required=True)
    parser.add_argument("--email", required=True)
    parser.add_argument(
        "--roles",
        default=ADMIN,
        help="comma-separated, admin and any of: " + ", ".join(ROLES) + " (default: admin)",
    )


def _roles(raw: str) -> list[str]:
    roles = sorted({r.strip() for r in raw.split(",") if r.strip()}, key=_known)
    if ADMIN not in roles:
        raise SystemExit("create-admin: --roles must include admin")
    return roles


def _known(role: str) -> int:
    if role not in ROLES:
        raise SystemExit(f"create-admin: unknown role {role!r} (known: {', '.join(ROLES)})")
    return ROLES.index(role)


def _own(args: argparse.Namespace, settings: Callable[[], AuthSettings]) -> None:
    asyncio.run(_run(args, settings()))


COMMANDS = {
    "create-admin": Command(
        "create an admin operator; prints the generated password and TOTP key once",
        _own,
        _create_admin_arguments,
    ),
    "rotate-key": Command(
        "new database signing key (when EBOK_SIGNING_KEYS is unset)",
        _own,
    ),
    "verify-audit": Command(
        "check the audit log's hash chain and its seals (EBOK_AUDIT_KEYS); exit 1 naming the"
        " first row that does not hold",
        _own,
    ),
}


def main(argv: list[str] | None = None) -> None:
    run(dataclasses.replace(SPEC, commands=COMMANDS), AuthSettings, create_app, argv)


async def _run(args: argparse.Namespace, settings: AuthSettings) -> None:
    pool = await db.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            await db.migrate(conn, migration_folders(SPEC))
        if args.command in ("create-admin", "rotate-key"):
            install_seal(seal_of(settings))  # what they do is audited, each row sealed
        if args.command == "create-admin":
            hasher = Hasher(settings)
            try:
                created = await create(
                    pool,
                    hasher,
                    login=args.login,
                    email=args.email,
                    roles=_roles(args.roles),
                    by="system:cli",
                    settings=settings,
                )
            finally:
                hasher.close()
            # Printed to the terminal of whoever ran the command, never logged.
            print(f"login:            {created['login']}")
            print(f"roles:            {', '.join(created['roles'])}")
            print(f"initial password: {created['initial_password']} (change at first login)")
            print(f"TOTP key:         {created['totp_secret']}")
            print(f"TOTP URI:         {created['otpauth_uri']}")
        elif args.command == "verify-audit":
            checked = await verify_chain(pool, seal_of(settings))
            print(f"audit chain head: {checked['head_id']} {checked['head_hash']}")
            if checked["first_broken_id"] is not None:
                print(f"audit chain BROKEN at row {checked['first_broken_id']}: {checked['why']}")
                raise SystemExit(1)
            print("audit chain intact")
        else:
            kid = await KeyRing(settings).rotate(pool)
            print(f"ebok-auth: new signing key {kid}")
    finally:
        await pool.close()


if __name__ == "__main__":
    main()
