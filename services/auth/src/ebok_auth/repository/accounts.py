"""Customer accounts (table ``accounts``)."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from . import Conn

# The last login is the audit log's (not a column kept by hand on every login).
_LAST_LOGIN = (
    "(SELECT max(occurred_at) FROM audit_log WHERE subject = a.client_number"
    " AND type = 'login.succeeded') AS last_login_at"
)


async def get(conn: Conn, client: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM accounts WHERE client_number = $1", client)


async def get_live(conn: Conn, client: str) -> asyncpg.Record | None:
    """The account if it may still use its sessions (active: not pending, blocked, deleted)."""
    return await conn.fetchrow(
        "SELECT * FROM accounts WHERE client_number = $1 AND status = 'active'", client
    )


async def status_for_update(conn: Conn, client: str) -> str | None:
    return await conn.fetchval(
        "SELECT status FROM accounts WHERE client_number = $1 FOR UPDATE", client
    )


async def active_email(conn: Conn, client: str) -> str | None:
    return await conn.fetchval(
        "SELECT email FROM accounts WHERE client_number = $1 AND status = 'active'", client
    )


async def insert_pending(conn: Conn, client: str, email: str, now: dt.datetime) -> None:
    await conn.execute(
        "INSERT INTO accounts (client_number, email, status, created_at)"
        " VALUES ($1, $2, 'pending', $3)",
        client,
        email,
        now,
    )


async def renew_pending(conn: Conn, client: str, email: str, now: dt.datetime) -> None:
    await conn.execute(
        "UPDATE accounts SET email = $2, created_at = $3 WHERE client_number = $1",
        client,
        email,
        now,
    )


async def activate(
    conn: Conn, client: str, password_hash: str, expires: dt.datetime, now: dt.datetime
) -> None:
    await conn.execute(
        "UPDATE accounts SET status = 'active', password_hash = $2,"
        " password_expires_at = $3, must_change_password = true, activated_at = $4"
        " WHERE client_number = $1",
        client,
        password_hash,
        expires,
        now,
    )


async def set_password(conn: Conn, client: str, password_hash: str, now: dt.datetime) -> None:
    """The customer's own password (changed or reset): no longer temporary."""
    await conn.execute(
        "UPDATE accounts SET password_hash = $2, must_change_password = false,"
        " password_expires_at = NULL, password_changed_at = $3 WHERE client_number = $1",
        client,
        password_hash,
        now,
    )


async def set_password_hash(conn: Conn, client: str, password_hash: str) -> None:
    """The same password hashed again (stronger parameters)."""
    await conn.execute(
        "UPDATE accounts SET password_hash = $2 WHERE client_number = $1", client, password_hash
    )


async def set_email(conn: Conn, client: str, email: str) -> None:
    await conn.execute("UPDATE accounts SET email = $2 WHERE client_number = $1", client, email)


async def block(conn: Conn, client: str, reason: str, by: str, now: dt.datetime) -> str | None:
    """Block an active account; its e-mail, or None if there was no active account."""
    return await conn.fetchval(
        "UPDATE accounts SET status = 'blocked', blocked_reason = $2, blocked_by = $3,"
        " blocked_at = $4 WHERE client_number = $1 AND status = 'active' RETURNING email",
        client,
        reason,
        by,
        now,
    )


async def unblock(conn: Conn, client: str) -> str | None:
    return await conn.fetchval(
        "UPDATE accounts SET status = 'active', blocked_reason = NULL, blocked_by = NULL,"
        " blocked_at = NULL WHERE client_number = $1 AND status = 'blocked' RETURNING email",
        client,
    )


async def delete(conn: Conn, client: str) -> bool:
    """Deleted (cascading to its link tokens and recovery codes); False if there was none."""
    deleted = await conn.fetchval(
        "DELETE FROM accounts WHERE client_number = $1 RETURNING client_number", client
    )
    return deleted is not None


async def delete_pending(conn: Conn, created_before: dt.datetime) -> list[str]:
    """Registrations never activated, created before the given time: removed."""
    rows = await conn.fetch(
        "DELETE FROM accounts WHERE status = 'pending' AND created_at < $1 RETURNING client_number",
        created_before,
    )
    return [r["client_number"] for r in rows]


async def search(
    conn: Conn, pattern: str, status: str | None, limit: int, offset: int
) -> list[asyncpg.Record]:
    """By client number prefix or e-mail fragment (``pattern`` escaped for LIKE)."""
    return await conn.fetch(
        f"""SELECT *, {_LAST_LOGIN}, count(*) OVER () AS total FROM accounts a
           WHERE ($1 = '' OR client_number LIKE $1 || '%'
                  OR lower(email) LIKE '%' || lower($1) || '%')
             AND ($2::text IS NULL OR status = $2)
           ORDER BY client_number LIMIT $3 OFFSET $4""",
        pattern,
        status,
        limit,
        offset,
    )


async def get_with_last_login(conn: Conn, client: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT *, {_LAST_LOGIN} FROM accounts a WHERE client_number = $1", client
    )


async def export(conn: Conn, client: str) -> asyncpg.Record | None:
    """What a data export shows of the account (never hashes or secrets)."""
    return await conn.fetchrow(
        "SELECT client_number, email, status, created_at, activated_at,"
        " password_changed_at, blocked_reason, blocked_at, totp_secret IS NOT NULL AS totp_enabled"
        " FROM accounts WHERE client_number = $1",
        client,
    )


async def own_view(
    conn: Conn,
    client: str,
    now: dt.datetime,
    session_id: uuid.UUID,
    kind: str,
    seen_since: dt.datetime,
) -> asyncpg.Record:
    """Whether the caller's session is live (``session_alive``, as ``sessions.alive`` says)
    and the account with what the customer's own view shows beside it, in one statement (the
    view is a part of every first dashboard): the newest terms the client accepted
    (``accepted_version``), the version in force (``current_version``), the one published
    and not yet in force (``upcoming_*``, NULL if none) and the scheduled block
    (``block_on``). Always one row; the account's columns are NULL if there is none."""
    row: asyncpg.Record = await conn.fetchrow(
        "SELECT s.session_alive, a.*,"
        " (SELECT coalesce(max(version), 0) FROM regulations_acceptances"
        "   WHERE client_number = $1) AS accepted_version,"
        " (SELECT coalesce(max(version), 0) FROM regulations"
        "   WHERE effective_from <= $2) AS current_version,"
        " u.version AS upcoming_version, u.effective_from AS upcoming_effective_from,"
        " u.summary AS upcoming_summary,"
        " (SELECT block_on FROM scheduled_blocks WHERE client_number = $1) AS block_on"
        " FROM (SELECT EXISTS (SELECT FROM sessions WHERE id = $3 AND kind = $4"
        "   AND subject = $1 AND revoked_at IS NULL AND expires_at > $2"
        "   AND last_seen_at > $5) AS session_alive) s"
        " LEFT JOIN accounts a ON a.client_number = $1"
        " LEFT JOIN LATERAL (SELECT version, effective_from, summary FROM regulations"
        "   WHERE effective_from > $2 ORDER BY version DESC LIMIT 1) u ON true",
        client,
        now,
        session_id,
        kind,
        seen_since,
    )
    return row
