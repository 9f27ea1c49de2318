"""The customer's views the gateway puts together itself: the dashboard (parts from every
service, kept while nothing changed) and the GDPR export (every service's part)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import orjson
from aiohttp import web
from ebok_shared.http.middleware import allow_restricted, require
from ebok_shared.http.params import query_choice
from ebok_shared.http.problems import Problem

from . import dashboard, export_archive
from .admission import ADMISSION
from .live import LIVE
from .proxy import UPSTREAMS
from .routes import GDPR, PREFIX
from .settings import GatewaySettings

routes = web.RouteTableDef()


def _token(request: web.Request) -> str:
    return request.headers["Authorization"].partition(" ")[2].strip()


@routes.get(PREFIX + "/me/dashboard")
async def get_dashboard(request: web.Request) -> web.Response:
    """Kept parts where nothing changed since (``Cache-Control: no-cache`` asks for none);
    ``?include=consumption`` adds that part (the portal's chart: one call for the page).
    The view's ETag lets a front end that kept what it made of it ask again with
    ``If-None-Match``: 304, no body, when the view is the same (the portal's page)."""
    principal = require(request, "customer")
    include = query_choice(request, "include", tuple(dashboard.OPTIONAL))
    shape = (include,) if include else ()
    settings = GatewaySettings.of(request.app)
    live = request.app[LIVE]
    views, portal, client = live.views, live.portal, principal.subject
    fresh = "no-cache" in request.headers.get("Cache-Control", "")
    asked = request.headers.get("If-None-Match")
    if asked is not None and not fresh:
        # The tag of the view the kept parts make, kept beside them until any of them (or
        # the portal's settings, or the day) changes: "still the same" said without
        # putting the view together and hashing it again.
        known = views.tag(client, shape, portal)
        if known is not None and _matches(asked, known):
            return web.Response(status=304, headers={"ETag": known})
    stamp = views.stamp(client)
    view = await dashboard.dashboard_view(
        request.app[UPSTREAMS],
        views,
        client,
        _token(request),
        portal=portal,
        part_timeout=settings.dashboard_part_timeout,
        budget=settings.dashboard_budget,
        fresh=fresh,
        include=tuple(dashboard.OPTIONAL[name] for name in shape),
        admission=request.app[ADMISSION],
    )
    response = _conditional(request, orjson.dumps(view))
    views.keep_tag(stamp, shape, portal, response.headers["ETag"])
    return response


def _conditional(request: web.Request, body: bytes) -> web.Response:
    """``body`` with its strong ETag (a digest of the very bytes), or 304 when the request's
    ``If-None-Match`` names it (RFC 9110 13.1.2: a list of tags, or ``*``)."""
    etag = f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
    asked = request.headers.get("If-None-Match")
    if asked is not None and _matches(asked, etag):
        return web.Response(status=304, headers={"ETag": etag})
    return web.Response(
        body=body, headers={"ETag": etag}, content_type="application/json", charset="utf-8"
    )


def _matches(asked: str, etag: str) -> bool:
    return asked.strip() == "*" or etag in _tags(asked)


def _tags(header: str) -> set[str]:
    # a weak tag matches too: If-None-Match compares weakly (RFC 9110 13.1.2)
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


async def _export_parts(request: web.Request) -> dict[str, Any]:
    """Every service's part of the export, or an error naming the ones that are missing
    (an incomplete export would mislead the customer)."""
    settings = GatewaySettings.of(request.app)
    parts = await dashboard.fetch_parts(  # never kept, and portal switches do not apply
        request.app[UPSTREAMS],
        dashboard.EXPORT,
        _token(request),
        part_timeout=settings.upstream_timeout,
        budget=settings.upstream_timeout,
    )
    missing = [name for name, part in parts.items() if part["status"] != "ok"]
    if missing:
        raise Problem(
            503,
            "Nie udało się zebrać wszystkich danych. Spróbuj ponownie za chwilę.",
            code="export-incomplete",
            services=missing,
        )
    return {name: part["data"] for name, part in parts.items()}


@routes.get(PREFIX + "/me/export")
@allow_restricted(*GDPR)
async def get_export(request: web.Request) -> web.Response:
    """The GDPR export's data as one JSON document (the archive adds the files)."""
    principal = require(request, "customer")
    document = {
        "client_number": principal.subject,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "services": await _export_parts(request),
        "archive": PREFIX + "/me/export/archive",  # the data, the files and a manifest
    }
    return web.json_response(
        document, headers={"Content-Disposition": 'attachment; filename="ebok-dane.json"'}
    )


@routes.get(PREFIX + "/me/export/archive")
@allow_restricted(*GDPR)
async def get_export_archive(request: web.Request) -> web.StreamResponse:
    """The whole export as one ZIP archive: the data as JSON, the files the customer sent
    beside it, and a manifest saying what each entry is."""
    principal = require(request, "customer")
    parts = await _export_parts(request)
    spool = await export_archive.build(
        request.app[UPSTREAMS],
        _token(request),
        principal.subject,
        parts,
        timeout=GatewaySettings.of(request.app).upstream_timeout,
    )
    try:
        spool.seek(0, 2)
        size = spool.tell()
        spool.seek(0)
        name = f"ebok-dane-{principal.subject}.zip"
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/zip",
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            }
        )
        response.content_length = size
        await response.prepare(request)
        while chunk := spool.read(256 * 1024):
            await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        spool.close()
