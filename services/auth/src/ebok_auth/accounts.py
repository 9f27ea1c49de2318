"""Customer accounts: reading them, what their tokens may do, and the state changes that
end access (block, unblock, delete), each with its event and audit entry in one transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
from ebok_shared.clock import clock

from . import audit, events, sessions
from .domain import RESTRICT_PASSWORD, RESTRICT_REGULATIONS

SYSTEM_CONTRACT_END = "system:contract-end"


async def get(conn: asyncpg.Connection | asyncpg.Pool, client_number: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM accounts WHERE client_number = $1", client_number)


async def current_regulations_version(conn: asyncpg.Connection | asyncpg.Pool) -> int:
    """The version in force now (the newest whose effective date has come)."""
    return await conn.fetchval(  # type: ignore[no-any-return]
        "SELECT coalesce(max(version), 0) FROM regulations WHERE effective_from <= $1",
        clock.now(),
    )


def restrictions_for(account: asyncpg.Record, accepted: int, current: int) -> list[str]:
    """What a new token for this account is restricted to (empty: full access), given the
    newest regulations version it accepted and the one in force."""
    found = []
    if account["must_change_password"]:
        found.append(RESTRICT_PASSWORD)
    if accepted < current:
        found.append(RESTRICT_REGULATIONS)
    return found


async def restrictions(
    conn: asyncpg.Connection | asyncpg.Pool, account: asyncpg.Record
) -> list[str]:
    accepted = await conn.fetchval(
        "SELECT coalesce(max(version), 0) FROM regulations_acceptances WHERE client_number = $1",
        account["client_number"],
    )
    return restrictions_for(account, accepted, await current_regulations_version(conn))


async def block(
    conn: asyncpg.Connection, client_number: str, *, reason: str, by: str, ip: str | None = None
) -> bool:
    """Block an active account: its sessions end now and the gateway is told. False if there
    was no active account to block."""
    now = clock.now()
    email = await conn.fetchval(
        "UPDATE accounts SET status = 'blocked', blocked_reason = $2, blocked_by = $3,"
        " blocked_at = $4 WHERE client_number = $1 AND status = 'active' RETURNING email",
        client_number,
        reason,
        by,
        now,
    )
    if email is None:
        return False
    await sessions.revoke_all(conn, "customer", client_number, reason="account-blocked")
    await events.publish(
        conn,
        events.BLOCKED,
        {"client_number": client_number, "email": email, "reason": reason, "by": by},
        key=client_number,
    )
    await audit.record(
        conn, "account.blocked", actor=by, subject=client_number, ip=ip, reason=reason
    )
    return True


async def unblock(
    conn: asyncpg.Connection, client_number: str, *, reason: str, by: str, ip: str | None = None
) -> bool:
    email = await conn.fetchval(
        "UPDATE accounts SET status = 'active', blocked_reason = NULL, blocked_by = NULL,"
        " blocked_at = NULL WHERE client_number = $1 AND status = 'blocked' RETURNING email",
        client_number,
    )
    if email is None:
        return False
    await events.publish(
        conn,
        events.UNBLOCKED,
        {"client_number": client_number, "email": email, "reason": reason, "by": by},
        key=client_number,
    )
    await audit.record(
        conn, "account.unblocked", actor=by, subject=client_number, ip=ip, reason=reason
    )
    return True


async def delete(
    conn: asyncpg.Connection,
    client_number: str,
    *,
    by: str,
    retention_years: int,
    ip: str | None = None,
    reason: str | None = None,
) -> bool:
    """Terms II.6 / GDPR art. 17: credentials and personal data go now (cascading to tokens,
    recovery codes), sessions end, every other service is told to erase or unlink. Kept: the
    regulations acceptances (evidence, until ``retention_years`` from now) and the audit log."""
    deleted = await conn.fetchval(
        "DELETE FROM accounts WHERE client_number = $1 RETURNING client_number", client_number
    )
    if deleted is None:
        return False
    await conn.execute(
        "DELETE FROM sessions WHERE kind = 'customer' AND subject = $1", client_number
    )
    await conn.execute(
        "DELETE FROM login_failures WHERE kind = 'customer' AND subject = $1", client_number
    )
    await conn.execute("DELETE FROM scheduled_blocks WHERE client_number = $1", client_number)
    await conn.execute(
        "UPDATE regulations_acceptances SET retain_until = $2 WHERE client_number = $1",
        client_number,
        retain_until(retention_years),
    )
    await events.publish(conn, events.DELETED, {"client_number": client_number}, key=client_number)
    details: dict[str, Any] = {"reason": reason} if reason else {}
    await audit.record(conn, "account.deleted", actor=by, subject=client_number, ip=ip, **details)
    return True


def retain_until(years: int) -> dt.date:
    today = clock.today()
    try:
        return today.replace(year=today.year + years)
    except ValueError:  # 29 February
        return today.replace(year=today.year + years, day=28)
