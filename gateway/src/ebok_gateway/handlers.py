"""Gateway HTTP handlers: the proxy built from the route table, the aggregated views, the
operators' portal settings, and the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import asyncpg
from aiohttp import web
from ebok_shared.http.middleware import public, require
from ebok_shared.http.problems import Problem
from ebok_shared.http.validation import read_json
from ebok_shared.logs import get_logger
from ebok_shared.service import POOL, SETTINGS

from . import dashboard, openapi, repository, request_bodies
from .live import LIVE
from .portal import SECTIONS
from .ratelimit import RULES, RateLimiter
from .routes import KINDS, PREFIX, ROUTES, Route
from .upstream import UpstreamResponse, Upstreams, as_problem

log = get_logger(__name__)
routes = web.RouteTableDef()

UPSTREAMS = web.AppKey("upstreams", Upstreams)
LIMITER = web.AppKey("limiter", RateLimiter)

_FORWARDED_HEADERS = ("Content-Type", "Accept", "Idempotency-Key", "Authorization")
_RETURNED_HEADERS = (
    "Content-Type",
    "Content-Disposition",
    "Location",
    "Retry-After",
    "Idempotent-Replayed",
    "ETag",
)


def client_ip(request: web.Request) -> str:
    settings = request.app[SETTINGS]
    if settings.trust_forwarded_for or request.remote in settings.trusted_proxies:  # type: ignore[attr-defined]
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


async def _forward(
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
            resp, out = await _forward(
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


for _route in ROUTES:
    routes.route(_route.method, PREFIX + _route.path)(proxy(_route))


def _token(request: web.Request) -> str:
    return request.headers["Authorization"].partition(" ")[2].strip()


@routes.get(PREFIX + "/me/dashboard")
async def get_dashboard(request: web.Request) -> web.Response:
    """Kept parts where nothing changed since (``Cache-Control: no-cache`` asks for none)."""
    principal = require(request, "customer")
    settings = request.app[SETTINGS]
    live = request.app[LIVE]
    view = await dashboard.dashboard_view(
        request.app[UPSTREAMS],
        live.views,
        principal.subject,
        _token(request),
        portal=live.portal,
        part_timeout=settings.dashboard_part_timeout,  # type: ignore[attr-defined]
        budget=settings.dashboard_budget,  # type: ignore[attr-defined]
        fresh="no-cache" in request.headers.get("Cache-Control", ""),
    )
    return web.json_response(view)


@routes.get(PREFIX + "/me/export")
async def get_export(request: web.Request) -> web.Response:
    """The GDPR export: every service's part, or an error naming the one that is missing
    (an incomplete export would mislead the customer)."""
    principal = require(request, "customer")
    settings = request.app[SETTINGS]
    parts = await dashboard.fetch_parts(  # never kept, and portal switches do not apply
        request.app[UPSTREAMS],
        dashboard.EXPORT,
        _token(request),
        part_timeout=settings.upstream_timeout,  # type: ignore[attr-defined]
        budget=settings.upstream_timeout,  # type: ignore[attr-defined]
    )
    missing = [name for name, part in parts.items() if part["status"] != "ok"]
    if missing:
        raise Problem(
            503,
            "Nie udało się zebrać wszystkich danych. Spróbuj ponownie za chwilę.",
            code="export-incomplete",
            services=missing,
        )
    document = {
        "client_number": principal.subject,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "services": {name: part["data"] for name, part in parts.items()},
    }
    return web.json_response(
        document, headers={"Content-Disposition": 'attachment; filename="ebok-dane.json"'}
    )


# --- operators: portal settings (terms IV.1) ----------------------------------------------

SECTION_SCHEMA = request_bodies.PORTAL_SECTION
ITEM_SCHEMA = request_bodies.PORTAL_ITEM


@routes.get(PREFIX + "/operator/portal-settings")
async def get_portal_settings(request: web.Request) -> web.Response:
    require(request, "operator")
    return web.json_response(request.app[LIVE].portal.describe())


@routes.put(PREFIX + "/operator/portal-settings/sections/{section}")
async def put_section(request: web.Request) -> web.Response:
    principal = require(request, "operator")
    section = request.match_info["section"]
    if section not in SECTIONS:
        raise Problem(404, "Nie ma takiej sekcji e-BOK.", code="unknown-section")
    body = await read_json(request, SECTION_SCHEMA)
    async with request.app[POOL].acquire() as conn:
        await repository.set_section(
            conn, section, body["mode"], body.get("message"), principal.subject
        )
    await request.app[LIVE].reload(request.app[POOL])  # at once here; NOTIFY tells the others
    return web.json_response(
        {"section": section, "mode": body["mode"], "message": body.get("message")}
    )


@routes.put(PREFIX + "/operator/portal-settings/sections/{section}/items/{item_id}")
async def put_item(request: web.Request) -> web.Response:
    principal = require(request, "operator")
    section, item_id = request.match_info["section"], request.match_info["item_id"]
    if section not in SECTIONS:
        raise Problem(404, "Nie ma takiej sekcji e-BOK.", code="unknown-section")
    if len(item_id) > 64:
        raise Problem(
            422,
            "Identyfikator jest za długi.",
            errors=[{"field": "item_id", "reason": "za długie (najwyżej 64 znaki)"}],
        )
    body = await read_json(request, ITEM_SCHEMA)
    async with request.app[POOL].acquire() as conn:
        await repository.set_item_hidden(conn, section, item_id, body["hidden"], principal.subject)
    await request.app[LIVE].reload(request.app[POOL])
    return web.json_response({"section": section, "item_id": item_id, "hidden": body["hidden"]})


@routes.get(PREFIX + "/operator/portal-settings/history")
async def get_portal_history(request: web.Request) -> web.Response:
    require(request, "operator")
    return web.json_response({"items": await repository.settings_history(request.app[POOL], 100)})


@routes.route(
    "*", PREFIX + "/operator/{service:auth|billing|readings|correspondence|notifier}/{tail:.*}"
)
async def operator_proxy(request: web.Request) -> web.StreamResponse:
    """Operator functions live in the services that own the data, under /operator/…"""
    require(request, "operator")
    resp, out = await _forward(
        request,
        request.match_info["service"],
        "/operator/" + request.match_info["tail"],
        16 * 1024 * 1024,  # operators' feed batches
    )
    return web.Response(status=resp.status, body=resp.body, headers=out)


@routes.get(PREFIX + "/openapi.json")
@public
async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi.document())
