"""Forwarding a request to the service that owns its data: the proxy handler each route of
the route table gets (access and an operator's role, portal switches, rate limits, then the
call), and the forwarding itself."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import asyncpg
from aiohttp import web
from ebok_shared.http.forwarded import is_trusted
from ebok_shared.http.middleware import public, require
from ebok_shared.http.params import bad
from ebok_shared.http.problems import Problem
from ebok_shared.http.roles import operator_role
from ebok_shared.logs import get_logger
from ebok_shared.service import POOL

from . import repository
from .live import LIVE
from .ratelimit import RULES, RateLimiter
from .routes import KINDS, Route
from .settings import GatewaySettings
from .upstream import UpstreamResponse, Upstreams, as_problem
from .view_cache import KEPT_ANSWERS, KeptAnswer

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
    "Cache-Control",  # the service's own choice; otherwise no-store (ebok_shared.http.hardening)
    "Content-Type",
    "Content-Disposition",
    "Location",
    "Retry-After",
    "Idempotent-Replayed",
    "ETag",
)


def client_ip(request: web.Request) -> str:
    settings = GatewaySettings.of(request.app)
    if settings.trust_forwarded_for or is_trusted(request.remote, settings.trusted_proxies):
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
    request: web.Request,
    service: str,
    path: str,
    max_body: int,
    extra_headers: dict[str, str] | None = None,
) -> tuple[UpstreamResponse, dict[str, str]]:
    """The request, passed to ``service`` at ``path``: the caller's token, correlation id,
    Idempotency-Key and address go along (and ``extra_headers``, the gateway's own); a
    failure becomes the service's problem."""
    headers = {h: request.headers[h] for h in _FORWARDED_HEADERS if h in request.headers}
    headers.update(extra_headers or {})
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


def _segment(name: str, value: str) -> str:
    """``value`` as one path segment, percent-encoded whole ("/" too). Refused: a control
    character, or a dot segment even inside it ("../x"), which a service decoding it might
    resolve."""
    if any(c < " " or c == "\x7f" for c in value) or {".", ".."} & set(value.split("/")):
        raise bad(name, "nieprawidłowa wartość parametru ścieżki")
    return quote(value, safe="")


def upstream_path(route: Route, match_info: Any) -> str:
    """The path the owning service is called at: exactly ``route``'s, each parameter checked
    against its own pattern (400 naming it otherwise) and re-encoded as one segment — so an
    encoded "/" or ".." in a parameter cannot reach another path of that service."""

    def parameter(found: re.Match[str]) -> str:
        name = found[1]
        value = match_info[name]
        if not route.accepts(name, value):
            raise bad(name, "nieprawidłowa wartość parametru ścieżki")
        return _segment(name, value)

    return re.sub(r"{(\w+)}", parameter, route.path)


def proxy(route: Route) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        client = subject = None
        if route.access != "public":
            principal = require(request, *KINDS[route.access])
            subject = principal.subject
            if principal.kind == "customer" and request.method not in ("GET", "HEAD"):
                client = principal.subject  # a change: their kept views go (see view_cache)
        live = request.app[LIVE]
        live.portal.check(route.section, request.method)
        path = upstream_path(route, request.match_info)
        if route.item_key and route.section:
            if live.portal.is_hidden(route.section, request.match_info[route.item_key]):
                raise Problem(404)
        if route.rate_rule:
            await request.app[LIMITER].hit((RULES[route.rate_rule], client_ip(request)))

        async def call() -> tuple[int, bytes, dict[str, str]]:
            try:
                resp, out = await forward(
                    request,
                    route.service,
                    route.to_service(path),
                    route.max_body,
                    live.portal.hidden_header(route.section, route.list_key, subject or ""),
                )
            finally:
                if client is not None:
                    await _views_changed(request, client)
            payload = resp.body
            # A service that takes the hidden items into its SQL leaves nothing here to take
            # out; this stays for lists whose service does not (yet) and for garden meters.
            if (route.list_key or route.sectioned_items) and resp.status == 200:
                payload = _without_hidden(live.portal, route, payload)
            return resp.status, payload, out

        if route.kept and subject is not None:
            return await _kept(request, route, subject, call)
        status, payload, out = await call()
        return web.Response(status=status, body=payload, headers=out)

    if route.access == "public":
        public(handler)
    if route.role is not None:
        operator_role(route.role)(handler)  # the shared auth middleware checks it first
    # a marker attribute on the handler function, read by the auth middleware
    handler.ebok_allowed_restrictions = frozenset(route.allow_restricted)  # type: ignore[attr-defined]
    handler.__name__ = f"proxy_{route.method.lower()}_{route.path.strip('/').replace('/', '_')}"
    return handler


# Query variants of one kept route per client (a customer asking every period in turn
# cannot fill the replica's memory; the rest are forwarded every time).
MAX_KEPT_QUERIES = 4


async def _kept(
    request: web.Request,
    route: Route,
    client: str,
    call: Callable[[], Awaitable[tuple[int, bytes, dict[str, str]]]],
) -> web.Response:
    """``route``'s answer for ``client`` and exactly this query, kept with the client's
    dashboard parts: dropped with them on any change of the client's (their own through the
    gateway, or an event), the day change and the ttl; a call under way during a change keeps
    nothing (view_cache.Fill). ``Cache-Control: no-cache`` asks the service."""
    views = request.app[LIVE].views
    key = KeptAnswer.key(route.path, request.rel_url.raw_query_string)
    if "no-cache" not in request.headers.get("Cache-Control", ""):
        kept = views.parts(client).get(key)
        if isinstance(kept, KeptAnswer):
            KEPT_ANSWERS.labels(route.path, "cache").inc()
            return web.Response(body=kept.body, headers=dict(kept.headers))
    fill = views.begin(client)
    keep: dict[str, KeptAnswer] = {}
    try:
        status, payload, out = await call()
        variants = KeptAnswer.key(route.path, "")
        if status == 200 and (
            key in views.parts(client)
            or sum(k.startswith(variants) for k in views.parts(client)) < MAX_KEPT_QUERIES
        ):
            keep[key] = KeptAnswer(payload, tuple(out.items()))
    finally:
        views.end(fill, keep)
    KEPT_ANSWERS.labels(route.path, "service").inc()
    return web.Response(status=status, body=payload, headers=out)


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
    shown = portal.visible_list(
        data, section=route.section, list_key=route.list_key, sectioned=route.sectioned_items
    )
    return payload if shown is data else json.dumps(shown, ensure_ascii=False).encode()
