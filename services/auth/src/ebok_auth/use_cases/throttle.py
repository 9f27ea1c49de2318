"""Rate limits (fixed windows in PostgreSQL, so every replica counts together) and the
per-account progressive lockout. Both lift by themselves; nothing here is permanent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ebok_shared.clock import clock

from ..domain import Throttled, lockout_seconds, rate_window
from ..repository import Conn
from ..repository import throttle as repo
from ..settings import AuthSettings


async def count(conn: Conn, key: str, seconds: int) -> int:
    """Count one attempt under ``key`` in the current window; returns the window's count."""
    start, _ = rate_window(clock.now(), seconds)
    return await repo.count(conn, key, start)


async def counted_since(conn: Conn, key: str, seconds: int, since: dt.datetime) -> int:
    """The count under ``key`` since the window ``since`` falls in (windows of ``seconds``)."""
    start, _ = rate_window(since, seconds)
    return await repo.hits_since(conn, key, start)


async def hit(conn: Conn, key: str, limit: int, seconds: int) -> None:
    """Count one attempt under ``key``; refused (429) once more than ``limit`` were made this
    window."""
    if await count(conn, key, seconds) > limit:
        raise Throttled(rate_window(clock.now(), seconds)[1])


@dataclass(frozen=True)
class Failure:
    failures: int
    locked_until: dt.datetime | None  # set when this failure started a lockout


async def record_failure(conn: Conn, kind: str, subject: str, settings: AuthSettings) -> Failure:
    """One more consecutive failure; every ``lockout_failures``-th starts a lockout that grows
    with each lockout (failures older than the reset time are forgotten first)."""
    now = clock.now()
    reset_before = now - dt.timedelta(seconds=settings.lockout_reset_seconds)
    row = await repo.add_failure(conn, kind, subject, now, reset_before)
    if row["failures"] % settings.lockout_failures != 0:
        return Failure(row["failures"], None)
    lockouts = row["lockouts"] + 1
    until = now + dt.timedelta(
        seconds=lockout_seconds(
            lockouts, settings.lockout_base_seconds, settings.lockout_max_seconds
        )
    )
    await repo.lock(conn, kind, subject, lockouts, until)
    return Failure(row["failures"], until)


async def clear(conn: Conn, kind: str, subject: str) -> None:
    await repo.clear(conn, kind, subject)
