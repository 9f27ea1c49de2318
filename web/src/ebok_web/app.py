"""The web app factory: wires middlewares, resources and every area's routes; no logic here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import redis.asyncio as redis
from aiohttp import web
from ebok_shared.http.hardening import harden_answers
from ebok_shared.http.lane import HttpLane
from ebok_shared.http.middleware import observed_middleware
from ebok_shared.redis_lane import RedisLane
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import (
    http_account,
    http_console_access,
    http_console_accounts,
    http_console_billing,
    http_console_cases,
    http_console_content,
    http_console_dead_letters,
    http_console_mail,
    http_console_meters,
    http_console_operators,
    http_contracts,
    http_correspondence,
    http_dashboard,
    http_garden,
    http_invoices,
    http_payments,
    http_public,
    http_readings,
)
from .gateway import Gateway
from .kept_pages import KeptPages
from .keys import GATEWAY, HTTP, KEPT_PAGES, OPERATOR_STORE, SETTINGS, STORE, TEMPLATES
from .middleware import page_middleware
from .rendering import STATIC, environment
from .sections import SECTIONS, SectionStates
from .sessions import SessionStore
from .settings import WebSettings

AREAS = (
    http_public,
    http_account,
    http_dashboard,
    http_invoices,
    http_payments,
    http_contracts,
    http_readings,
    http_garden,
    http_correspondence,
    # The operator console (/operator): its own cookie, session store and layout.
    http_console_access,
    http_console_cases,
    http_console_meters,
    http_console_accounts,
    http_console_content,
    http_console_mail,
    http_console_billing,
    http_console_operators,
    http_console_dead_letters,
)


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    http = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=settings.gateway_timeout, connect=2),
        connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=30),
        auto_decompress=True,
        # one session for every customer's calls: a cookie the gateway set must never ride
        # along on another customer's (and web keeps none: each call carries its token)
        cookie_jar=aiohttp.DummyCookieJar(),
    )
    client = redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    lane = RedisLane(settings.redis_url, timeout=2)  # the session read of every page
    # the gateway's answers to bodiless GETs (every page's), beside aiohttp's client
    gateway_lane = HttpLane(settings.api_url, timeout=settings.gateway_timeout)
    app[HTTP] = http
    app[GATEWAY] = Gateway(http, settings.api_url, gateway_lane)
    app[STORE] = SessionStore(
        client,
        settings.session_prefix,
        idle=settings.session_idle_seconds,
        absolute=settings.session_absolute_seconds,
        lane=lane,
    )
    # Operators apart: their own key prefix (and cookie), nothing shared with customers'.
    app[OPERATOR_STORE] = SessionStore(
        client,
        settings.session_prefix + "operator:",
        idle=settings.session_idle_seconds,
        absolute=settings.session_absolute_seconds,
        lane=lane,
    )
    yield
    await http.close()
    gateway_lane.close()
    lane.close()
    await client.aclose()


async def live(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    """Ready when sessions can be kept (Redis) and the gateway answers its own liveness."""
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(request.app[STORE].ping(), timeout=2)
        checks["sessions"] = "ok"
    except Exception as exc:  # any failure means not ready
        checks["sessions"] = f"unavailable: {type(exc).__name__}"
    gateway = request.app[SETTINGS].gateway_url.rstrip("/") + "/health/live"
    try:
        async with request.app[HTTP].get(gateway, timeout=aiohttp.ClientTimeout(total=2)) as r:
            checks["gateway"] = "ok" if r.status == 200 else f"status {r.status}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        checks["gateway"] = f"unavailable: {type(exc).__name__}"
    ok = all(state == "ok" for state in checks.values())
    return web.json_response(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503
    )


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_app(settings: WebSettings) -> web.Application:
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        # two layers: the correlation id and metrics (shared), then web's own (headers,
        # error pages, the session, CSRF; static files' caching is set with the headers)
        middlewares=[observed_middleware, page_middleware],
    )
    app[SETTINGS] = settings
    app[TEMPLATES] = environment()
    app[KEPT_PAGES] = KeptPages()
    app[SECTIONS] = SectionStates()
    app.cleanup_ctx.append(_resources)
    harden_answers(app, cache_control=False)  # no Server header; caching is set per answer
    app.router.add_get("/health/live", live)
    app.router.add_get("/health/ready", ready)
    app.router.add_get("/metrics", metrics)
    app.router.add_static("/static/", STATIC, append_version=False)
    for area in AREAS:
        app.router.add_routes(area.routes)
    return app
