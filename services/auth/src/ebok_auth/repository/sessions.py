"""Sessions and their refresh tokens (tables ``sessions``, ``refresh_tokens``)."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from . import Conn, audit


async def start(
    conn: Conn,
    *,
    session_id: uuid.UUID,
    kind: str,
    subject: str,
    now: dt.datetime,
    expires: dt.datetime,
    ip: str | None,
    refresh_hash: bytes,
    actor: str,
    correlation_id: str | None,
) -> None:
    """A new session, its first refresh token and the audit entry of the login: one
    statement (login is the hot path; argon2 already costs enough), then the entry's seal
    with the COMMIT (``audit.insert_sealed``), in one transaction."""
    await audit.insert_sealed(
        conn,
        """WITH session AS (
               INSERT INTO sessions (id, kind, subject, created_at, last_seen_at, expires_at, ip)
               VALUES ($1, $2, $3, $4, $4, $5, $6) RETURNING id),
           refresh AS (
               INSERT INTO refresh_tokens (token_hash, session_id, issued_at)
               SELECT $7, id, $4 FROM session)
           INSERT INTO audit_log (occurred_at, type, actor, subject, ip, correlation_id)
           VALUES ($4, 'login.succeeded', $8, $3, $6, $9) RETURNING id, row_hash""",
        session_id,
        kind,
        subject,
        now,
        expires,
        ip,
        refresh_hash,
        actor,
        correlation_id,
    )


async def add_refresh(conn: Conn, digest: bytes, session_id: uuid.UUID, now: dt.datetime) -> None:
    await conn.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, issued_at) VALUES ($1, $2, $3)",
        digest,
        session_id,
        now,
    )


async def spend_refreshes(conn: Conn, session_id: uuid.UUID, now: dt.datetime) -> None:
    """Every outstanding refresh token of the session."""
    await conn.execute(
        "UPDATE refresh_tokens SET used_at = $2 WHERE session_id = $1 AND used_at IS NULL",
        session_id,
        now,
    )


async def touch(conn: Conn, session_id: uuid.UUID, now: dt.datetime) -> None:
    await conn.execute("UPDATE sessions SET last_seen_at = $2 WHERE id = $1", session_id, now)


async def spend_refresh(conn: Conn, digest: bytes, now: dt.datetime) -> uuid.UUID | None:
    """Spend a live refresh token; its session id, or None if it was not live."""
    return await conn.fetchval(
        "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL"
        " RETURNING session_id",
        digest,
        now,
    )


async def session_of_refresh(conn: Conn, digest: bytes) -> uuid.UUID | None:
    return await conn.fetchval(
        "SELECT session_id FROM refresh_tokens WHERE token_hash = $1", digest
    )


async def get_for_update(conn: Conn, session_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM sessions WHERE id = $1 FOR UPDATE", session_id)


async def alive(
    conn: Conn,
    session_id: uuid.UUID,
    kind: str,
    subject: str,
    now: dt.datetime,
    seen_since: dt.datetime,
) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM sessions WHERE id = $1 AND kind = $2 AND subject = $3"
            " AND revoked_at IS NULL AND expires_at > $4 AND last_seen_at > $5",
            session_id,
            kind,
            subject,
            now,
            seen_since,
        )
    )


async def live_of(
    conn: Conn, kind: str, subject: str, now: dt.datetime, seen_since: dt.datetime, limit: int
) -> list[asyncpg.Record]:
    """The subject's live sessions, the most recently used first."""
    return await conn.fetch(
        "SELECT id, created_at, last_seen_at, expires_at, ip FROM sessions"
        " WHERE kind = $1 AND subject = $2 AND revoked_at IS NULL AND expires_at > $3"
        " AND last_seen_at > $4 ORDER BY last_seen_at DESC LIMIT $5",
        kind,
        subject,
        now,
        seen_since,
        limit,
    )


async def revoke(
    conn: Conn, session_id: uuid.UUID | None, now: dt.datetime, reason: str
) -> list[asyncpg.Record]:
    """The session revoked if it was live: its id, kind and subject (or nothing)."""
    return await conn.fetch(
        "UPDATE sessions SET revoked_at = $2, revoked_reason = $3"
        " WHERE id = $1 AND revoked_at IS NULL RETURNING id, kind, subject",
        session_id,
        now,
        reason,
    )


async def revoke_all(
    conn: Conn,
    kind: str,
    subject: str,
    now: dt.datetime,
    reason: str,
    keep: uuid.UUID | None,
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "UPDATE sessions SET revoked_at = $3, revoked_reason = $4"
        " WHERE kind = $1 AND subject = $2 AND revoked_at IS NULL"
        " AND ($5::uuid IS NULL OR id <> $5) RETURNING id, kind, subject",
        kind,
        subject,
        now,
        reason,
        keep,
    )


async def delete_customer(conn: Conn, client: str) -> None:
    await conn.execute("DELETE FROM sessions WHERE kind = 'customer' AND subject = $1", client)


async def export(conn: Conn, client: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT created_at, last_seen_at, expires_at, revoked_at, revoked_reason, ip"
        " FROM sessions WHERE kind = 'customer' AND subject = $1 ORDER BY created_at",
        client,
    )


async def prune(conn: Conn, before: dt.datetime) -> None:
    await conn.execute("DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1", before)
