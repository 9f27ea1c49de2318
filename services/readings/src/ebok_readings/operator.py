"""Operator HTTP handlers (``/operator/...``, kind operator): readings to verify, the
garden-meter request queue, a meter's full history, reading windows, the back-office feed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from ebok_shared.clock import clock
from ebok_shared.http.middleware import require
from ebok_shared.http.problems import Problem

from . import domain, feed, operations, params, views
from . import repository as repo
from .context import outbox, pool, rules, settings
from .domain import CLIENT_NUMBER_RE, Refusal
from .handlers import window_state
from .uploads import read_small_json

routes = web.RouteTableDef()

DECISION_SCHEMA = {
    "type": "object",
    "required": ["decision"],
    "additionalProperties": False,
    "properties": {
        "decision": {"enum": ["accept", "reject"]},
        "reason": {"type": "string", "minLength": 1, "maxLength": 500},
    },
}
MAX_WINDOWS = 100
WINDOWS_SCHEMA = {
    "type": "object",
    "required": ["mode"],
    "additionalProperties": False,
    "properties": {
        "mode": {"enum": ["always", "windows"]},
        "windows": {
            "type": "array",
            "maxItems": MAX_WINDOWS,
            "items": {
                "type": "object",
                "required": ["opens_on", "closes_on"],
                "additionalProperties": False,
                "properties": {
                    "opens_on": {"type": "string", "format": "date"},
                    "closes_on": {"type": "string", "format": "date"},
                },
            },
        },
    },
}


def _operator(request: web.Request) -> str:
    return f"operator:{require(request, 'operator').subject}"


async def _decision(request: web.Request) -> tuple[bool, str | None]:
    body = await read_small_json(request, DECISION_SCHEMA, settings(request).json_max_bytes)
    accept = body["decision"] == "accept"
    reason = body.get("reason")
    if not accept and not reason:
        raise Problem(
            422,
            "reason: podaj powód odrzucenia (klient go zobaczy).",
            code="validation",
            errors=[{"field": "reason", "reason": "powód odrzucenia jest wymagany"}],
        )
    return accept, reason


# -- readings to verify --------------------------------------------------------------------------


@routes.get("/operator/readings")
async def readings_to_verify(request: web.Request) -> web.Response:
    _operator(request)
    params.query_choice(request, "status", ("to_verify",))
    page = params.page(request, settings(request).page_size_max)
    async with pool(request).acquire() as conn:
        total, rows = await repo.to_verify_page(conn, page.size, page.offset)
    return web.json_response(page.envelope([views.reading(r, operator=True) for r in rows], total))


@routes.post("/operator/readings/{reading_id}/decision")
async def decide_reading(request: web.Request) -> web.Response:
    by = _operator(request)
    reading_id = params.uuid_param(request, "reading_id")
    accept, reason = await _decision(request)
    try:
        async with pool(request).acquire() as conn, conn.transaction():
            row = await operations.decide_reading(
                conn,
                outbox(request),
                reading_id,
                accept=accept,
                reason=reason,
                by=by,
                now=clock.now(),
            )
    except Refusal as exc:
        raise params.problem(exc) from None
    return web.json_response(views.reading(row, operator=True))


# -- garden-meter requests -----------------------------------------------------------------------


@routes.get("/operator/garden-meter-requests")
async def garden_queue(request: web.Request) -> web.Response:
    _operator(request)
    status = params.query_choice(request, "status", ("submitted", "accepted", "rejected"))
    client = request.query.get("client_number") or None
    if client is not None and not CLIENT_NUMBER_RE.match(client):
        raise params.bad("client_number", "numer klienta to 6 cyfr")
    page = params.page(request, settings(request).page_size_max)
    async with pool(request).acquire() as conn:
        total, rows = await repo.requests_page(
            conn,
            client_number=client,
            status=status or "submitted",
            limit=page.size,
            offset=page.offset,
            oldest_first=True,
        )
        history = await repo.histories(conn, [r["id"] for r in rows])
    return web.json_response(
        page.envelope(
            [views.garden_request(r, history[r["id"]], operator=True) for r in rows], total
        )
    )


@routes.get("/operator/garden-meter-requests/{request_id}")
async def garden_request(request: web.Request) -> web.Response:
    _operator(request)
    request_id = params.uuid_param(request, "request_id")
    async with pool(request).acquire() as conn:
        row = await repo.request(conn, request_id)
        if row is None:
            raise Problem(404, "Nie znaleziono zgłoszenia.", code="request-not-found")
        history = await repo.histories(conn, [request_id])
    return web.json_response(views.garden_request(row, history[request_id], operator=True))


@routes.post("/operator/garden-meter-requests/{request_id}/decision")
async def decide_garden_request(request: web.Request) -> web.Response:
    by = _operator(request)
    request_id = params.uuid_param(request, "request_id")
    accept, reason = await _decision(request)
    try:
        async with pool(request).acquire() as conn, conn.transaction():
            row = await operations.decide_garden_request(
                conn,
                outbox(request),
                rules(request),
                request_id,
                accept=accept,
                reason=reason,
                by=by,
                today=clock.today(),
                now=clock.now(),
            )
            history = await repo.histories(conn, [request_id])
    except Refusal as exc:
        raise params.problem(exc) from None
    return web.json_response(views.garden_request(row, history[request_id], operator=True))


# -- a meter's full history ----------------------------------------------------------------------


@routes.get("/operator/meters/{serial}")
async def meter_history(request: web.Request) -> web.Response:
    _operator(request)
    serial = params.serial(request)
    s = settings(request)
    async with pool(request).acquire() as conn:
        meter = await repo.meter(conn, serial)
        if meter is None:
            raise Problem(404, f"Nie znaleziono wodomierza {serial}.", code="meter-not-found")
        readings = await repo.meter_readings(conn, serial)
        requests = await repo.meter_requests(conn, serial)
        history = await repo.histories(conn, [r["id"] for r in requests])
        reminders = await repo.meter_reminders(conn, serial)
    shown = views.meter(
        meter,
        today=clock.today(),
        dates=s.garden_reading_dates,
        legalisation_years=s.legalisation_years,
    )
    return web.json_response(
        {
            **shown,
            "client_number": meter["client_number"],
            "registered_by": meter["registered_by"],
            "readings": [views.reading(r, operator=True) for r in readings],
            "garden_meter_requests": [
                views.garden_request(r, history[r["id"]], operator=True) for r in requests
            ],
            "reminders_sent": [
                {
                    "kind": r["kind"],
                    "due_on": r["due_on"].isoformat(),
                    "sent_at": r["sent_at"].isoformat(),
                }
                for r in reminders
            ],
        }
    )


@routes.get("/operator/photos/{photo_id}")
async def photo(request: web.Request) -> web.Response:
    _operator(request)
    photo_id = params.uuid_param(request, "photo_id")
    async with pool(request).acquire() as conn:
        row = await repo.photo(conn, photo_id)
    if row is None:
        raise Problem(404, "Nie znaleziono zdjęcia.", code="photo-not-found")
    return web.Response(
        body=row["data"],
        content_type=row["content_type"],
        headers={"X-Content-Type-Options": "nosniff"},
    )


# -- reading windows -----------------------------------------------------------------------------


async def _windows_answer(request: web.Request) -> dict[str, Any]:
    async with pool(request).acquire() as conn:
        mode, rows = await repo.window_config(conn, stored=True)
        state = await window_state(conn, clock.today())
    return {
        "mode": mode,
        "windows": [
            {"opens_on": r["opens_on"].isoformat(), "closes_on": r["closes_on"].isoformat()}
            for r in rows
        ],
        "today": views.window(state),
    }


@routes.get("/operator/reading-windows")
async def get_windows(request: web.Request) -> web.Response:
    _operator(request)
    return web.json_response(await _windows_answer(request))


@routes.put("/operator/reading-windows")
async def put_windows(request: web.Request) -> web.Response:
    """``always``: customers may read any day; ``windows``: only within the given periods."""
    by = _operator(request)
    body = await read_small_json(request, WINDOWS_SCHEMA, settings(request).json_max_bytes)
    windows: list[domain.Window] = []
    errors = []
    for i, w in enumerate(body.get("windows", [])):
        opens, closes = dt.date.fromisoformat(w["opens_on"]), dt.date.fromisoformat(w["closes_on"])
        if closes < opens:
            errors.append(
                {
                    "field": f"windows.{i}.closes_on",
                    "reason": "koniec okresu jest wcześniejszy niż jego początek",
                }
            )
        windows.append(domain.Window(opens, closes))
    if not errors and (pair := domain.overlapping(windows)):
        errors.append(
            {"field": f"windows.{pair[1]}", "reason": f"okres nachodzi na okres {pair[0]}"}
        )
    if body["mode"] == "windows" and not windows:
        errors.append({"field": "windows", "reason": "podaj co najmniej jeden okres"})
    if errors:
        raise Problem(
            422,
            "Popraw wskazane pola: " + "; ".join(f"{e['field']}: {e['reason']}" for e in errors),
            code="validation",
            errors=errors,
        )
    async with pool(request).acquire() as conn, conn.transaction():
        await repo.set_windows(
            conn, body["mode"], [(w.opens_on, w.closes_on) for w in windows], by, clock.now()
        )
    return web.json_response(await _windows_answer(request))


# -- back-office feed ----------------------------------------------------------------------------


async def _feed(request: web.Request, kind: feed.Kind) -> web.Response:
    by = _operator(request)
    s = settings(request)
    fmt = feed.detect_format(request.content_type, request.query.get("format"))
    if fmt is None:
        raise Problem(
            415,
            "Partia musi być w formacie JSON lines (application/x-ndjson) lub CSV (text/csv).",
            code="unsupported-media-type",
            errors=[
                {"field": "Content-Type", "reason": "oczekiwano application/x-ndjson lub text/csv"}
            ],
        )
    body = await request.read()
    try:
        outcome = await feed.apply(
            pool(request),
            outbox(request),
            rules(request),
            kind=kind,
            body=body,
            fmt=fmt,
            received_by=by,
            max_rows=s.feed_max_rows,
            today=clock.today(),
            now=clock.now(),
        )
    except feed.UnreadableBatch as exc:
        raise Problem(
            422,
            f"Nie można odczytać partii: {exc}.",
            code="feed-unreadable",
            errors=[{"field": "(plik)", "reason": str(exc)}],
        ) from None
    if outcome.error_count:
        shown = outcome.to_dict()
        raise Problem(
            422,
            f"Partia zawiera błędy ({outcome.error_count}); nie zastosowano żadnego wiersza.",
            code="feed-rejected",
            errors=[
                {"field": f"wiersz {e.line}: {e.field}", "reason": e.reason} for e in outcome.errors
            ],
            lines=shown["errors"],
            error_count=outcome.error_count,
        )
    return web.json_response(outcome.to_dict(), status=200 if outcome.repeated else 201)


@routes.post("/operator/feed/readings")
async def feed_readings(request: web.Request) -> web.Response:
    return await _feed(request, "readings")


@routes.post("/operator/feed/meters")
async def feed_meters(request: web.Request) -> web.Response:
    return await _feed(request, "meters")
