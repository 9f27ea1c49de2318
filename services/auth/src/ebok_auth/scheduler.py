"""auth's background loop, safe with several replicas and across restarts (all state is in
the database): each pass runs the maintenance use cases (contract-end blocks, unactivated
registrations, retention) and reloads database signing keys, so a rotation on one replica
reaches the others."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, NoReturn

from aiohttp import web
from ebok_shared.logs import get_logger
from ebok_shared.loops import background, every
from ebok_shared.service import POOL

from .resources import KEYRING
from .settings import AuthSettings
from .use_cases.maintenance import block_due, prune, remove_unactivated

log = get_logger(__name__)

__all__ = ["block_due", "run", "tick"]


async def tick(app: web.Application) -> None:
    """One pass of everything (tests call it directly after moving the clock)."""
    pool, settings = app[POOL], AuthSettings.of(app)
    blocked = await block_due(pool)
    removed = await remove_unactivated(pool, settings.pending_account_days)
    await prune(pool, settings)
    await app[KEYRING].load(pool)
    if blocked or removed:
        log.info("scheduler pass", blocked=blocked, unactivated_removed=removed)


def _loop(app: web.Application) -> Coroutine[Any, Any, NoReturn]:
    return every(
        "auth-scheduler", lambda: AuthSettings.of(app).scheduler_interval, lambda: tick(app)
    )


# cleanup_ctx: the loop runs for the app's lifetime and is cancelled at shutdown.
run = background("auth-scheduler", _loop)
