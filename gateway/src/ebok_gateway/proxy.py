"""Forwarding a request to the service that owns its data: the proxy handler each route of
the route table gets (access, portal switches, rate limits, then the call), and the
forwarding itself, shared with the operators' catch-all route."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from aiohttp import web
from ebok_shared.http.middleware import public, require
from ebok_shared.http.problems import Problem
from ebok_shared.logs import get_logger
from ebok_shared.service import POOL

from . import repository
from .live import LIVE
from .ratelimit import RULES, RateLimiter
from .routes import KINDS, PREFIX, Route
from .settings import GatewaySettings
from .upstream import UpstreamResponse, Upstreams, as_problem

log = get_logger(__name__)

UPSTREAMS = web.AppKey("upstreams", Upstreams)
LIMITER = web.AppKey("limiter", RateLimiter)

# OpenPayu-Signature: the payment provider's signature over a notification's body.
_FORWARDED_HEADERS = (
    "Content-Type",
    "Accept",
    "Idempotency-Key",
    "Authorization",
    "OpenPayu-Signature",
)
_RETURNED_HEADERS = (
    "Content-Type",
    "Content-Disposition",
    "Location",
    "Retry-After",
    "Idempotent-Replayed",
    "ETag",
)


def client_ip(request: web.Request) -> str:
    settings = GatewaySettings.of(request.app)
    if settings.trust_forwarded_for or request.remote in settings.trusted_proxies:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.remote or "unknown"


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The body, refused with 413 as soon as it passes ``limit`` (not after reading it all)."""
    if request.content_length is not None and request.content_length > limit:
        raise Problem(413, f"Treść żądania przekracza {limit // (1024 * 1024)} MB.")
    if not request.can_read_body:
        return None
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"Treść żądania przekracza {limit // (1024 * 1024)} MB.")
        chunks.append(chunk)
    return b"".join(chunks)


async def forward(
    request: web.Request, service: str, path: str, max_body: int
) -> tuple[UpstreamResponse, dict[str, str]]:
    """The request, passed to ``service`` at ``path``: the caller's token, correlation id,
    Idempotency-Key and address go along; a failure becomes the service's problem."""
    headers = {h: request.headers[h] for h in _FORWARDED_HEADERS if h in request.headers}
    headers["X-Forwarded-For"] = client_ip(request)
    if "User-Agent" in request.headers:
        headers["User-Agent"] = request.headers["User-Agent"][:300]
    resp = await request.app[UPSTREAMS].call(
        service,
        request.method,
        path,
        headers=headers,
        params=request.query,
        data=await _read_body(request, max_body),
    )
    if resp.status >= 400:
        raise as_problem(service, resp)
    return resp, {h: resp.headers[h] for h in _RETURNED_HEADERS if h in resp.headers}


def proxy(route: Route) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        client = None
        if route.access != "public":
            principal = require(request, *KINDS[route.access])
            if principal.kind == "customer" and request.method not in ("GET", "HEAD"):
                client = principal.subject  # a change: their kept views go (see view_cache)
        live = request.app[LIVE]
        live.portal.check(route.section, request.method)
        if route.item_key and route.section:
            if live.portal.is_hidden(route.section, request.match_info[route.item_key]):
                raise Problem(404)
        if route.rate_rule:
            await request.app[LIMITER].hit((RULES[route.rate_rule], client_ip(request)))
        try:
            resp, out = await forward(
                request, route.service, request.path.removeprefix(PREFIX), route.max_body
            )
        finally:
            if client is not None:
                await _views_changed(request, client)
        payload = resp.body
        if route.list_key and route.section and resp.status == 200:
            payload = _without_hidden(live.portal, route, payload)
        return web.Response(status=resp.status, body=payload, headers=out)

    if route.access == "public":
        public(handler)
    handler.ebok_allowed_restrictions = frozenset(route.allow_restricted)  # type: ignore[attr-defined]
    handler.__name__ = f"proxy_{route.method.lower()}_{route.path.strip('/').replace('/', '_')}"
    return handler


async def _views_changed(request: web.Request, client: str) -> None:
    """Here at once (the customer's next view shows the change), then on every replica; if
    the database cannot tell them, the change's event will (or, at worst, the cache's ttl)."""
    request.app[LIVE].views.drop(client)
    try:
        await repository.views_changed(request.app[POOL], [client])
    except (asyncpg.PostgresError, OSError) as exc:
        log.warning("could not announce a view change", error=repr(exc))


def _without_hidden(portal: Any, route: Route, payload: bytes) -> bytes:
    data = json.loads(payload)
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data["items"] = portal.filter_items(route.section, data["items"], route.list_key)
        return json.dumps(data, ensure_ascii=False).encode()
    return payload
