"""Rate limits (fixed windows in PostgreSQL, so every replica counts together) and the
per-account progressive lockout. Both lift by themselves; nothing here is permanent."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import asyncpg
from ebok_shared.clock import clock
from ebok_shared.http.problems import Problem

from .domain import lockout_seconds
from .settings import AuthSettings


def window(seconds: int) -> tuple[dt.datetime, int]:
    now = clock.now()
    start = math.floor(now.timestamp() / seconds) * seconds
    retry = int(start + seconds - now.timestamp()) + 1
    return dt.datetime.fromtimestamp(start, dt.UTC), retry


def too_many(retry_after: int) -> Problem:
    return Problem(
        429,
        "Zbyt wiele prób. Spróbuj ponownie za chwilę.",
        code="rate-limited",
        headers={"Retry-After": str(retry_after)},
    )


async def count(conn: asyncpg.Connection | asyncpg.Pool, key: str, seconds: int) -> int:
    """Count one attempt under ``key`` in the current window; returns the window's count."""
    start, _ = window(seconds)
    return await conn.fetchval(  # type: ignore[no-any-return]
        "INSERT INTO rate_counters (key, window_start, hits) VALUES ($1, $2, 1)"
        " ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_counters.hits + 1"
        " RETURNING hits",
        key,
        start,
    )


async def hit(conn: asyncpg.Connection | asyncpg.Pool, key: str, limit: int, seconds: int) -> None:
    """Count one attempt under ``key``; 429 once more than ``limit`` were made this window."""
    if await count(conn, key, seconds) > limit:
        raise too_many(window(seconds)[1])


async def prune(conn: asyncpg.Connection | asyncpg.Pool, older_than: dt.datetime) -> None:
    await conn.execute("DELETE FROM rate_counters WHERE window_start < $1", older_than)


# -- per-account lockout ------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    failures: int
    locked_until: dt.datetime | None  # set when this failure started a lockout


async def record_failure(
    conn: asyncpg.Connection, kind: str, subject: str, settings: AuthSettings
) -> Failure:
    """One more consecutive failure; every ``lockout_failures``-th starts a lockout that grows
    with each lockout (failures older than the reset time are forgotten first)."""
    now = clock.now()
    reset_before = now - dt.timedelta(seconds=settings.lockout_reset_seconds)
    row = await conn.fetchrow(
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
    if row["failures"] % settings.lockout_failures != 0:
        return Failure(row["failures"], None)
    lockouts = row["lockouts"] + 1
    until = now + dt.timedelta(
        seconds=lockout_seconds(
            lockouts, settings.lockout_base_seconds, settings.lockout_max_seconds
        )
    )
    await conn.execute(
        "UPDATE login_failures SET lockouts = $3, locked_until = $4"
        " WHERE kind = $1 AND subject = $2",
        kind,
        subject,
        lockouts,
        until,
    )
    return Failure(row["failures"], until)


async def clear(conn: asyncpg.Connection | asyncpg.Pool, kind: str, subject: str) -> None:
    await conn.execute("DELETE FROM login_failures WHERE kind = $1 AND subject = $2", kind, subject)
