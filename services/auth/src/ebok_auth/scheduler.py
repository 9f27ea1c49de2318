"""auth's background work, safe with several replicas and across restarts (all state is in
the database; due rows are claimed with FOR UPDATE SKIP LOCKED):

- contract-end blocks that fell due (terms II.7);
- registrations never activated, removed after 7 days;
- retention: spent links, ended sessions, old rate counters, audit entries and kept
  acceptances past their time;
- reloading database signing keys, so a rotation on one replica reaches the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web
from ebok_shared.clock import clock
from ebok_shared.logs import get_logger
from ebok_shared.service import POOL

from . import accounts, audit, throttle
from .resources import AUTH_SETTINGS, KEYRING

log = get_logger(__name__)

CONTRACT_END_REASON = (
    "Rozwiązanie umowy na dostawę wody i/lub odprowadzanie ścieków (regulamin II.7)."
)
_BATCH = 100


async def block_due(pool: asyncpg.Pool) -> int:
    """Block the accounts whose contract-end block is due; returns how many were handled."""
    handled = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            due = await conn.fetch(
                "SELECT client_number FROM scheduled_blocks WHERE block_on <= $1"
                " ORDER BY block_on LIMIT $2 FOR UPDATE SKIP LOCKED",
                clock.today(),
                _BATCH,
            )
            for row in due:
                await accounts.block(
                    conn,
                    row["client_number"],
                    reason=CONTRACT_END_REASON,
                    by=accounts.SYSTEM_CONTRACT_END,
                )
            await conn.execute(
                "DELETE FROM scheduled_blocks WHERE client_number = ANY($1::text[])",
                [r["client_number"] for r in due],
            )
        handled += len(due)
        if len(due) < _BATCH:
            return handled


async def remove_unactivated(pool: asyncpg.Pool, days: int) -> int:
    async with pool.acquire() as conn, conn.transaction():
        removed = await conn.fetch(
            "DELETE FROM accounts WHERE status = 'pending' AND created_at < $1"
            " RETURNING client_number",
            clock.now() - dt.timedelta(days=days),
        )
        numbers = [r["client_number"] for r in removed]
        # No account came of it: the acceptance given with the form (and its IP) goes too.
        # Acceptances kept from an earlier, deleted account have retain_until set and stay.
        await conn.execute(
            "DELETE FROM regulations_acceptances WHERE client_number = ANY($1::text[])"
            " AND retain_until IS NULL",
            numbers,
        )
        for number in numbers:
            await audit.record(conn, "registration.expired", actor="system", subject=number)
    return len(removed)


async def prune(app: web.Application) -> None:
    pool, settings = app[POOL], app[AUTH_SETTINGS]
    now = clock.now()
    day_ago = now - dt.timedelta(days=1)
    await pool.execute("DELETE FROM link_tokens WHERE expires_at < $1 OR used_at < $1", day_ago)
    await pool.execute("DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1", day_ago)
    await throttle.prune(pool, day_ago)
    await pool.execute(
        "DELETE FROM login_failures WHERE last_failure < $1 AND"
        " (locked_until IS NULL OR locked_until < $2)",
        now - dt.timedelta(seconds=settings.lockout_reset_seconds),
        now,
    )
    await pool.execute(
        "DELETE FROM audit_log WHERE occurred_at < $1",
        now - dt.timedelta(days=settings.audit_retention_days),
    )
    await pool.execute("DELETE FROM regulations_acceptances WHERE retain_until < $1", clock.today())


async def tick(app: web.Application) -> None:
    """One pass of everything (tests call it directly after moving the clock)."""
    pool, settings = app[POOL], app[AUTH_SETTINGS]
    blocked = await block_due(pool)
    removed = await remove_unactivated(pool, settings.pending_account_days)
    await prune(app)
    await app[KEYRING].load(pool)
    if blocked or removed:
        log.info("scheduler pass", blocked=blocked, unactivated_removed=removed)


async def run(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the loop runs for the app's lifetime and is cancelled at shutdown."""

    async def loop() -> None:
        while True:
            try:
                await tick(app)
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("scheduler pass failed; next one will retry", error=repr(exc))
            await asyncio.sleep(app[AUTH_SETTINGS].scheduler_interval)

    task = asyncio.create_task(loop(), name="auth-scheduler")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
