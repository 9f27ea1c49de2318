"""Operator accounts: separate from customers, with roles (operator, admin), TOTP always.

The first admin comes from ``python -m ebok_auth create-admin`` or from the bootstrap
variables (EBOK_BOOTSTRAP_ADMIN_*), applied at start-up only while no admin exists.
"""

from __future__ import annotations

import contextlib
from typing import Any

import asyncpg
from ebok_shared.clock import clock
from ebok_shared.refusals import Refusal, conflict

from .. import passwords, totp
from ..passwords import Hasher
from ..repository import audit
from ..repository import operators as repo
from ..settings import AuthSettings
from ..totp_vault import owner, vault_of


async def create(
    pool: asyncpg.Pool,
    hasher: Hasher,
    *,
    login: str,
    email: str,
    roles: list[str],
    by: str,
    ip: str | None = None,
    password: str | None = None,
    totp_secret: str | None = None,
    settings: AuthSettings,
) -> dict[str, Any]:
    """A new operator. Unless given, the password is generated (and must be changed at first
    login) and so is the TOTP key; both are returned once, to be handed over in person."""
    generated = password is None
    password = password or passwords.generate()
    secret = totp_secret or totp.new_secret()
    hashed = await hasher.hash(password)
    async with pool.acquire() as conn, conn.transaction():
        inserted = await repo.insert(
            conn,
            login=login,
            email=email,
            roles=roles,
            password_hash=hashed,
            must_change_password=generated,
            totp_secret=vault_of(settings).seal(secret, owner("operator", login)),
            now=clock.now(),
            by=by,
        )
        if not inserted:
            raise conflict("operator-exists", "Operator o tym loginie już istnieje.")
        await audit.record(conn, "operator.created", actor=by, subject=login, ip=ip, roles=roles)
    issuer = settings.totp_issuer
    return {
        "login": login,
        "roles": roles,
        "initial_password": password if generated else None,
        "totp_secret": secret,
        "otpauth_uri": totp.provisioning_uri(secret, login, issuer),
    }


async def listing(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await repo.listing(pool)
    return [{**dict(r), "created_at": r["created_at"].isoformat()} for r in rows]


async def bootstrap_admin(pool: asyncpg.Pool, hasher: Hasher, settings: AuthSettings) -> None:
    """Create the admin named by EBOK_BOOTSTRAP_ADMIN_* if there is no admin yet."""
    if not settings.bootstrap_admin_login or not settings.bootstrap_admin_password:
        return
    password = settings.bootstrap_admin_password.reveal()
    broken = passwords.policy_violations(password, settings.bootstrap_admin_login)
    if broken:
        raise ValueError("EBOK_BOOTSTRAP_ADMIN_PASSWORD: " + "; ".join(broken))
    async with pool.acquire() as conn, conn.transaction():
        await repo.lock_bootstrap(conn)
        if await repo.admin_exists(conn):
            return
    secret = settings.bootstrap_admin_totp_secret
    with contextlib.suppress(Refusal):  # another replica created it a moment ago
        await create(
            pool,
            hasher,
            login=settings.bootstrap_admin_login,
            email=settings.bootstrap_admin_email or f"{settings.bootstrap_admin_login}@localhost",
            roles=["admin", "operator"],
            by="system:bootstrap",
            password=password,
            totp_secret=secret.reveal() if secret else None,
            settings=settings,
        )
