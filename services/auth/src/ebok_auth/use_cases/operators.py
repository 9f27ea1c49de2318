"""Operator accounts: separate from customers, with roles (``ebok_shared.http.roles``:
customer_service, billing, content, admin), TOTP always.

The first admin comes from ``python -m ebok_auth create-admin`` or from the bootstrap
variables (EBOK_BOOTSTRAP_ADMIN_*), applied at start-up only while no admin exists. Admins
create operators, change their roles, reset their TOTP key and deactivate them; each change
is audited, ends the operator's sessions (their tokens carry the old roles) and keeps at
least one active admin.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import asyncpg
from ebok_shared.clock import clock
from ebok_shared.http.roles import ADMIN, ROLES
from ebok_shared.refusals import Refusal, conflict, not_found

from .. import passwords, totp
from ..passwords import Hasher
from ..repository import audit
from ..repository import operators as repo
from ..settings import AuthSettings
from ..totp_vault import owner, vault_of
from . import sessions


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


def _view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, dt.datetime) else value
        for key, value in dict(row).items()
    } | {"roles": sorted(row["roles"], key=ROLES.index)}


async def listing(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    return [_view(r) for r in await repo.listing(pool)]


async def one(pool: asyncpg.Pool, login: str) -> dict[str, Any]:
    row = await repo.get(pool, login)
    if row is None:
        raise not_found("Nie ma takiego pracownika.")
    return _view(row)


_NO_OPERATOR = "Nie ma takiego aktywnego pracownika."


async def _keep_an_admin(conn: asyncpg.Connection, login: str) -> None:
    """Refuses a change that would leave no active admin (nobody could manage operators)."""
    await repo.lock_admins(conn)
    if await repo.other_active_admins(conn, login) == 0:
        raise conflict(
            "last-admin",
            "To ostatni aktywny administrator: najpierw nadaj rolę administratora komuś innemu.",
        )


async def change_roles(
    pool: asyncpg.Pool, login: str, roles: list[str], *, reason: str, by: str, ip: str
) -> dict[str, Any]:
    """New roles for an operator (an admin may change their own); their sessions end so the
    next login's token carries the new roles."""
    roles = sorted(set(roles), key=ROLES.index)
    async with pool.acquire() as conn, conn.transaction():
        before = await repo.get(conn, login)
        if before is None or not before["active"]:
            raise not_found(_NO_OPERATOR)
        if ADMIN in before["roles"] and ADMIN not in roles:
            await _keep_an_admin(conn, login)
        if not await repo.set_roles(conn, login, roles, clock.now(), by):
            raise not_found(_NO_OPERATOR)
        await audit.record(
            conn,
            "operator.roles_changed",
            actor=by,
            subject=login,
            ip=ip,
            roles_before=sorted(before["roles"], key=ROLES.index),
            roles=roles,
            reason=reason,
        )
        await sessions.revoke_all(conn, "operator", login, reason="roles-changed")
        after = await repo.get(conn, login)
    assert after is not None
    return _view(after)


async def deactivate(
    pool: asyncpg.Pool, login: str, *, reason: str, by: str, ip: str
) -> dict[str, Any]:
    """The operator can no longer log in; their sessions end at once. The account stays (the
    audit log names it), so the login is never given to someone else."""
    async with pool.acquire() as conn, conn.transaction():
        before = await repo.get(conn, login)
        if before is None or not before["active"]:
            raise not_found(_NO_OPERATOR)
        if ADMIN in before["roles"]:
            await _keep_an_admin(conn, login)
        await repo.deactivate(conn, login, clock.now(), by)
        await audit.record(
            conn, "operator.deactivated", actor=by, subject=login, ip=ip, reason=reason
        )
        await sessions.revoke_all(conn, "operator", login, reason="operator-deactivated")
        after = await repo.get(conn, login)
    assert after is not None
    return _view(after)


async def reset_totp(
    pool: asyncpg.Pool,
    login: str,
    *,
    reason: str,
    by: str,
    ip: str,
    settings: AuthSettings,
) -> dict[str, Any]:
    """A new TOTP key (a lost phone): shown once to the admin, to enrol in person; the
    operator's sessions end."""
    secret = totp.new_secret()
    async with pool.acquire() as conn, conn.transaction():
        sealed = vault_of(settings).seal(secret, owner("operator", login))
        if not await repo.reset_totp(conn, login, sealed, clock.now()):
            raise not_found(_NO_OPERATOR)
        await audit.record(
            conn, "operator.totp_reset", actor=by, subject=login, ip=ip, reason=reason
        )
        await sessions.revoke_all(conn, "operator", login, reason="totp-reset")
    return {
        "login": login,
        "totp_secret": secret,
        "otpauth_uri": totp.provisioning_uri(secret, login, settings.totp_issuer),
    }


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
            roles=list(settings.bootstrap_admin_roles),
            by="system:bootstrap",
            password=password,
            totp_secret=secret.reveal() if secret else None,
            settings=settings,
        )
