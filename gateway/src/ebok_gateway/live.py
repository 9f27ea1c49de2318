"""What every replica must hold in memory and keep current: portal settings and customers'
kept views (revoked tokens are kept by the shared factory, as in every component). A
dedicated connection LISTENs; a settings notification (or a reconnect) reloads, a views
notification drops that client's views (a reconnect, all)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
from aiohttp import web
from ebok_shared.logs import get_logger
from ebok_shared.loops import listen, running
from ebok_shared.service import POOL

from .portal import PortalSettings
from .repository import PORTAL_NOTIFY, VIEWS_NOTIFY
from .settings import GatewaySettings
from .view_cache import ALL, ViewCache

log = get_logger(__name__)


@dataclass
class Live:
    portal: PortalSettings = field(default_factory=PortalSettings)
    views: ViewCache = field(default_factory=lambda: ViewCache(ttl=0))
    loaded: asyncio.Event = field(default_factory=asyncio.Event)

    async def reload(self, pool: asyncpg.Pool) -> None:
        self.portal = await PortalSettings.load(pool)
        self.loaded.set()


LIVE = web.AppKey("live", Live)


async def live_settings(app: web.Application) -> AsyncIterator[None]:
    settings = GatewaySettings.of(app)
    live = Live(views=ViewCache(ttl=settings.dashboard_cache_seconds))
    app[LIVE] = live
    pool = app[POOL]

    def reconnected() -> None:
        live.views.drop(ALL)  # what was missed while not listening is unknown

    follow = listen(
        "live-settings",
        settings.database_url,
        (PORTAL_NOTIFY,),
        lambda: live.reload(pool),  # after LISTEN: nothing can slip in between
        on_notify={VIEWS_NOTIFY: live.views.drop},
        on_connect=reconnected,
    )
    async with running("live-settings", follow):
        await asyncio.wait_for(live.loaded.wait(), timeout=30)
        yield
