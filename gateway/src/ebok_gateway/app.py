"""The gateway app factory: wires routes, middlewares and resources; no logic here."""

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from ebok_shared.redis_lane import RedisLane
from ebok_shared.service import ServiceSpec, create_service_app

from . import events, http_customer, http_operator, http_public, upstream, web_security
from .admission import ADMISSION, Admission
from .live import live_settings
from .middleware import rate_limit_middleware
from .proxy import LIMITER, UPSTREAMS
from .ratelimit import RateLimiter
from .settings import GatewaySettings

SERVICES = ("auth", "billing", "readings", "correspondence", "notifier")


async def upstreams(app: web.Application) -> AsyncIterator[None]:
    settings = GatewaySettings.of(app)
    session = upstream.session(settings.upstream_connections)
    app[UPSTREAMS] = upstream.Upstreams(
        session, {s: settings.upstream(s) for s in SERVICES}, settings.upstream_timeout
    )
    app[ADMISSION] = Admission(settings.dashboard_views_at_once)
    lane = RedisLane(settings.redis_url, timeout=0.5)  # the rate limit of every request
    app[LIMITER] = RateLimiter(lane, settings.rate_limit_prefix)
    yield
    lane.close()
    app[UPSTREAMS].close()
    await session.close()


SPEC: ServiceSpec[GatewaySettings] = ServiceSpec(
    name="gateway",
    migrations=Path(__file__).parent / "migrations",
    routes=[*http_public.routes, *http_customer.routes, *http_operator.routes],
    subscriptions=events.SUBSCRIPTIONS,
    contexts=(upstreams, live_settings),
    middlewares=(web_security.preflight_middleware, rate_limit_middleware),
    idempotency=False,  # the services that own the data answer retried POSTs
    dead_letter_routes=False,  # only the table's routes, under /api/v1
    batch=False,  # the services answer batches; the gateway makes them
)


def create_app(settings: GatewaySettings) -> web.Application:
    app = create_service_app(SPEC, settings)
    web_security.install(app, settings.cors_origins)
    return app
