"""What every replica must hold in memory and keep current: portal settings, revocations and
customers' kept views. A dedicated connection LISTENs; a settings notification (or a
reconnect) reloads, a views notification drops that client's views (a reconnect, all)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
from aiohttp import web
from ebok_shared import db
from ebok_shared.logs import get_logger
from ebok_shared.service import POOL

from .portal import PortalSettings
from .repository import PORTAL_NOTIFY, REVOCATION_NOTIFY, VIEWS_NOTIFY
from .revocation import Revocations
from .settings import GatewaySettings
from .view_cache import ALL, ViewCache

log = get_logger(__name__)


@dataclass
class Live:
    portal: PortalSettings = field(default_factory=PortalSettings)
    revocations: Revocations = field(default_factory=Revocations)
    views: ViewCache = field(default_factory=lambda: ViewCache(ttl=0))
    loaded: asyncio.Event = field(default_factory=asyncio.Event)

    async def reload(self, pool: asyncpg.Pool) -> None:
        self.portal = await PortalSettings.load(pool)
        self.revocations = await Revocations.load(pool)
        self.loaded.set()


LIVE = web.AppKey("live", Live)


async def live_settings(app: web.Application) -> AsyncIterator[None]:
    settings = GatewaySettings.of(app)
    live = Live(views=ViewCache(ttl=settings.dashboard_cache_seconds))
    app[LIVE] = live
    pool, dsn = app[POOL], settings.database_url
    wake = asyncio.Event()

    async def follow() -> None:
        while True:
            conn = None
            try:
                conn = await db.connect(dsn)
                for channel in (PORTAL_NOTIFY, REVOCATION_NOTIFY):
                    await conn.add_listener(channel, lambda *_: wake.set())
                await conn.add_listener(VIEWS_NOTIFY, lambda *args: live.views.drop(args[-1]))
                live.views.drop(ALL)  # what was missed while not listening is unknown
                await live.reload(pool)  # after LISTEN: nothing can slip in between
                while True:
                    await wake.wait()
                    wake.clear()
                    await live.reload(pool)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("live settings connection lost; reconnecting", error=repr(exc))
                await asyncio.sleep(1)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=2))

    task = asyncio.create_task(follow(), name="live-settings")
    await asyncio.wait_for(live.loaded.wait(), timeout=30)
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
