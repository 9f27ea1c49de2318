"""Rate counters (fixed windows, so every replica counts together) and the per-account
lockout (tables ``rate_counters``, ``login_failures``)."""

from __future__ import annotations

import datetime as dt

import asyncpg

from . import Conn


async def count(conn: Conn, key: str, window_start: dt.datetime) -> int:
    """One more hit under ``key`` in the window; the window's count."""
    return await conn.fetchval(
        "INSERT INTO rate_counters (key, window_start, hits) VALUES ($1, $2, 1)"
        " ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_counters.hits + 1"
        " RETURNING hits",
        key,
        window_start,
    )


async def hits(conn: Conn, key: str, window_start: dt.datetime) -> int:
    """The window's count under ``key`` so far (0: none)."""
    found = await conn.fetchval(
        "SELECT hits FROM rate_counters WHERE key = $1 AND window_start = $2", key, window_start
    )
    return int(found or 0)


async def hits_since(conn: Conn, key: str, window_start: dt.datetime) -> int:
    """The count under ``key`` in the windows from ``window_start`` on."""
    found = await conn.fetchval(
        "SELECT sum(hits) FROM rate_counters WHERE key = $1 AND window_start >= $2",
        key,
        window_start,
    )
    return int(found or 0)


async def prune(conn: Conn, before: dt.datetime) -> None:
    await conn.execute("DELETE FROM rate_counters WHERE window_start < $1", before)


async def add_failure(
    conn: Conn, kind: str, subject: str, now: dt.datetime, reset_before: dt.datetime
) -> asyncpg.Record:
    """One more consecutive failure (those older than ``reset_before`` are forgotten first):
    the failures and lockouts counted so far."""
    return await conn.fetchrow(
        """INSERT INTO login_failures (kind, subject, failures, last_failure)
           VALUES ($1, $2, 1, $3)
           ON CONFLICT (kind, subject) DO UPDATE SET
             failures = CASE WHEN login_failures.last_failure < $4 THEN 1
                             ELSE login_failures.failures + 1 END,
             lockouts = CASE WHEN login_failures.last_failure < $4 THEN 0
                             ELSE login_failures.lockouts END,
             last_failure = $3
           RETURNING failures, lockouts""",
        kind,
        subject,
        now,
        reset_before,
    )


async def lock(conn: Conn, kind: str, subject: str, lockouts: int, until: dt.datetime) -> None:
    await conn.execute(
        "UPDATE login_failures SET lockouts = $3, locked_until = $4"
        " WHERE kind = $1 AND subject = $2",
        kind,
        subject,
        lockouts,
        until,
    )


async def clear(conn: Conn, kind: str, subject: str) -> None:
    await conn.execute("DELETE FROM login_failures WHERE kind = $1 AND subject = $2", kind, subject)


async def prune_failures(conn: Conn, last_before: dt.datetime, now: dt.datetime) -> None:
    """Failures nobody repeated since ``last_before`` whose lockout (if any) is over."""
    await conn.execute(
        "DELETE FROM login_failures WHERE last_failure < $1 AND"
        " (locked_until IS NULL OR locked_until < $2)",
        last_before,
        now,
    )
