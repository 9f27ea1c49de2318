"""auth's background work (the scheduler runs it; safe with several replicas: due rows are
claimed with FOR UPDATE SKIP LOCKED):

- contract-end blocks that fell due (terms II.7);
- registrations never activated, removed after 7 days;
- retention: spent links, ended sessions, old rate counters, audit entries and kept
  acceptances past their time.
"""

from __future__ import annotations

import datetime as dt

import asyncpg
from ebok_shared.clock import clock

from ..domain import CONTRACT_END_REASON, SYSTEM_CONTRACT_END
from ..repository import accounts, audit, links, projection, regulations, sessions, throttle
from ..settings import AuthSettings
from .accounts import block

_BATCH = 100


async def block_due(pool: asyncpg.Pool) -> int:
    """Block the accounts whose contract-end block is due; returns how many were handled."""
    handled = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            due = await projection.due_blocks(conn, clock.today(), _BATCH)
            for client in due:
                await block(conn, client, reason=CONTRACT_END_REASON, by=SYSTEM_CONTRACT_END)
            await projection.delete_blocks(conn, due)
        handled += len(due)
        if len(due) < _BATCH:
            return handled


async def remove_unactivated(pool: asyncpg.Pool, days: int) -> int:
    async with pool.acquire() as conn, conn.transaction():
        numbers = await accounts.delete_pending(conn, clock.now() - dt.timedelta(days=days))
        # No account came of it: the acceptance given with the form (and its IP) goes too.
        await regulations.delete_unretained_acceptances(conn, numbers)
        for number in numbers:
            await audit.record(conn, "registration.expired", actor="system", subject=number)
    return len(numbers)


async def prune(pool: asyncpg.Pool, settings: AuthSettings) -> None:
    now = clock.now()
    day_ago = now - dt.timedelta(days=1)
    await links.prune(pool, day_ago)
    await sessions.prune(pool, day_ago)
    await throttle.prune(pool, day_ago)
    await throttle.prune_failures(
        pool, now - dt.timedelta(seconds=settings.lockout_reset_seconds), now
    )
    await audit.prune(pool, now - dt.timedelta(days=settings.audit_retention_days))
    await regulations.prune_acceptances(pool, clock.today())
