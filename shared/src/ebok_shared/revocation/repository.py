"""Revocation SQL: the shared tables of migrations/0003_token_revocations.sql, and the
notification that tells every replica of the process to reload them."""

from __future__ import annotations

import datetime as dt
from typing import TypeAlias

import asyncpg

REVOCATION_NOTIFY = "ebok_token_revocations"

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool


async def revocations(
    conn: Conn, now: dt.datetime
) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    """Revoked subjects (with the moment up to which their tokens count as revoked) and the
    ended sessions whose tokens may still be unexpired."""
    subjects = await conn.fetch("SELECT subject, revoked_before FROM revoked_token_subjects")
    sessions = await conn.fetch(
        "SELECT session_id FROM revoked_token_sessions WHERE expires_at > $1", now
    )
    return subjects, sessions


async def revoke_subject(conn: Conn, subject_key: str, before: dt.datetime, reason: str) -> None:
    await conn.execute(
        """INSERT INTO revoked_token_subjects (subject, revoked_before, reason)
           VALUES ($1, $2, $3)
           ON CONFLICT (subject) DO UPDATE SET
               revoked_before = GREATEST(
                   revoked_token_subjects.revoked_before, EXCLUDED.revoked_before),
               reason = EXCLUDED.reason""",
        subject_key,
        before,
        reason,
    )
    await conn.execute("SELECT pg_notify($1, '')", REVOCATION_NOTIFY)


async def revoke_sessions(conn: Conn, session_ids: list[str], expires_at: dt.datetime) -> None:
    await conn.execute(
        "INSERT INTO revoked_token_sessions (session_id, expires_at)"
        " SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING",
        session_ids,
        expires_at,
    )
    await conn.execute("SELECT pg_notify($1, '')", REVOCATION_NOTIFY)


async def prune(conn: Conn, now: dt.datetime) -> None:
    """Ended sessions whose every token has expired need no refusing any more."""
    await conn.execute("DELETE FROM revoked_token_sessions WHERE expires_at < $1", now)
