"""Operator HTTP handlers (``/operator/...``, kind operator): readings to verify, the
garden-meter request queue, a meter's full history, reading windows, the back-office feed.
Each parses the request, calls one use case and renders the answer."""

from __future__ import annotations

import datetime as dt

from aiohttp import web
from ebok_shared.api.readings import DECISION_SCHEMA, WINDOWS_SCHEMA
from ebok_shared.clock import clock
from ebok_shared.http import feed as feed_http
from ebok_shared.http.jsonbody import json_answer
from ebok_shared.http.middleware import require
from ebok_shared.http.params import bad, page, query_choice
from ebok_shared.http.problems import validation_problem
from ebok_shared.http.roles import BILLING, CUSTOMER_SERVICE, operator_role

from . import views
from .common.values import CLIENT_NUMBER_RE
from .feed import domain as feed_rules
from .feed import use_cases as feed
from .garden import use_cases as garden
from .http_bodies import read_small_json
from .http_common import outbox, pool, rules, serial, settings, uuid_param
from .meters import use_cases as meters
from .readings import use_cases as readings
from .readings.domain import Window

routes = web.RouteTableDef()


def _operator(request: web.Request) -> str:
    return f"operator:{require(request, 'operator').subject}"


async def _decision(request: web.Request) -> tuple[bool, str | None]:
    body = await read_small_json(request, DECISION_SCHEMA, settings(request).json_max_bytes)
    accept = body["decision"] == "accept"
    reason = body.get("reason")
    if not accept and not reason:
        raise validation_problem(
            [{"field": "reason", "reason": "powód odrzucenia jest wymagany"}],
            detail="reason: podaj powód odrzucenia (klient go zobaczy).",
        )
    return accept, reason


# -- readings to verify --------------------------------------------------------------------------


@routes.get("/operator/readings")
@operator_role(CUSTOMER_SERVICE)
async def readings_to_verify(request: web.Request) -> web.Response:
    _operator(request)
    query_choice(request, "status", ("to_verify",))
    paging = page(request, settings(request).page_size_max)
    total, rows = await readings.to_verify(pool(request), paging.size, paging.offset)
    return json_answer(paging.envelope([views.reading(r, operator=True) for r in rows], total))


@routes.post("/operator/readings/{reading_id}/decision")
@operator_role(CUSTOMER_SERVICE)
async def decide_reading(request: web.Request) -> web.Response:
    by = _operator(request)
    reading_id = uuid_param(request, "reading_id")
    accept, reason = await _decision(request)
    row = await readings.decide_reading(
        pool(request), outbox(request), reading_id, accept=accept, reason=reason, by=by
    )
    return json_answer(views.reading(row, operator=True))


@routes.get("/operator/queue-counts")
@operator_role(CUSTOMER_SERVICE)
async def queue_counts(request: web.Request) -> web.Response:
    """``{"readings_to_verify", "garden_meter_requests"}``: what waits for an operator."""
    _operator(request)
    return json_answer(await readings.queue_counts(pool(request)))


# -- garden-meter requests -----------------------------------------------------------------------


@routes.get("/operator/garden-meter-requests")
@operator_role(CUSTOMER_SERVICE)
async def garden_queue(request: web.Request) -> web.Response:
    _operator(request)
    status = query_choice(request, "status", ("submitted", "accepted", "rejected"))
    client = request.query.get("client_number") or None
    if client is not None and not CLIENT_NUMBER_RE.match(client):
        raise bad("client_number", "numer klienta to 6 cyfr")
    paging = page(request, settings(request).page_size_max)
    found = await garden.requests(
        pool(request),
        client_number=client,
        status=status or "submitted",
        limit=paging.size,
        offset=paging.offset,
        oldest_first=True,
    )
    return json_answer(
        paging.envelope(
            [views.garden_request(q.row, q.history, operator=True) for q in found.requests],
            found.total,
        )
    )


@routes.get("/operator/garden-meter-requests/{request_id}")
@operator_role(CUSTOMER_SERVICE)
async def garden_request(request: web.Request) -> web.Response:
    _operator(request)
    found = await garden.request(pool(request), uuid_param(request, "request_id"))
    return json_answer(views.garden_request(found.row, found.history, operator=True))


@routes.post("/operator/garden-meter-requests/{request_id}/decision")
@operator_role(CUSTOMER_SERVICE)
async def decide_garden_request(request: web.Request) -> web.Response:
    by = _operator(request)
    request_id = uuid_param(request, "request_id")
    accept, reason = await _decision(request)
    decided = await garden.decide_garden_request(
        pool(request),
        outbox(request),
        rules(request),
        request_id,
        accept=accept,
        reason=reason,
        by=by,
    )
    return json_answer(views.garden_request(decided.row, decided.history, operator=True))


# -- a meter's full history ----------------------------------------------------------------------


@routes.get("/operator/meters/{serial}")
@operator_role(CUSTOMER_SERVICE)
async def meter_history(request: web.Request) -> web.Response:
    _operator(request)
    s = settings(request)
    found = await meters.meter_history(pool(request), serial(request))
    shown = views.meter(
        found.meter,
        today=clock.today(),
        dates=s.garden_reading_dates,
        legalisation_years=s.legalisation_years,
    )
    return json_answer(
        {
            **shown,
            "client_number": found.meter["client_number"],
            "registered_by": found.meter["registered_by"],
            "readings": [views.reading(r, operator=True) for r in found.readings],
            "garden_meter_requests": [
                views.garden_request(r, found.history[r["id"]], operator=True)
                for r in found.requests
            ],
            "reminders_sent": [
                {
                    "kind": r["kind"],
                    "due_on": r["due_on"].isoformat(),
                    "sent_at": r["sent_at"].isoformat(),
                }
                for r in found.reminders
            ],
        }
    )


@routes.get("/operator/photos/{photo_id}")
@operator_role(CUSTOMER_SERVICE)
async def photo(request: web.Request) -> web.Response:
    _operator(request)
    row = await readings.photo(pool(request), uuid_param(request, "photo_id"))
    return web.Response(
        body=row["data"],
        content_type=row["content_type"],
        headers={"X-Content-Type-Options": "nosniff"},
    )


# -- reading windows -----------------------------------------------------------------------------


@routes.get("/operator/reading-windows")
@operator_role(BILLING)
async def get_windows(request: web.Request) -> web.Response:
    _operator(request)
    found = await readings.reading_windows(pool(request))
    return json_answer(views.windows(found.mode, found.windows, found.today))


@routes.put("/operator/reading-windows")
@operator_role(BILLING)
async def put_windows(request: web.Request) -> web.Response:
    """``always``: customers may read any day; ``windows``: only within the given periods."""
    by = _operator(request)
    body = await read_small_json(request, WINDOWS_SCHEMA, settings(request).json_max_bytes)
    windows = [
        Window(dt.date.fromisoformat(w["opens_on"]), dt.date.fromisoformat(w["closes_on"]))
        for w in body.get("windows", [])
    ]
    found = await readings.set_reading_windows(pool(request), body["mode"], windows, by)
    return json_answer(views.windows(found.mode, found.windows, found.today))


# -- back-office feed ----------------------------------------------------------------------------


async def _feed(request: web.Request, kind: feed_rules.Kind) -> web.Response:
    by = _operator(request)
    fmt, body = await feed_http.read_batch(request)  # within the app-wide body cap
    result = await feed.apply(
        pool(request),
        outbox(request),
        rules(request),
        kind=kind,
        body=body,
        fmt=fmt,
        received_by=by,
        max_rows=settings(request).feed_max_rows,
        today=clock.today(),
        now=clock.now(),
    )
    return feed_http.answer(result)


@routes.post("/operator/feed/readings")
@operator_role(BILLING)
async def feed_readings(request: web.Request) -> web.Response:
    return await _feed(request, "readings")


@routes.post("/operator/feed/meters")
@operator_role(BILLING)
async def feed_meters(request: web.Request) -> web.Response:
    return await _feed(request, "meters")


@routes.get("/operator/feed/batches")
@operator_role(BILLING)
async def feed_batches(request: web.Request) -> web.Response:
    """The history of readings' and meters' batches, the newest first (paged)."""
    _operator(request)
    paging = page(request, settings(request).page_size_max)
    total, rows = await feed.batch_page(pool(request), paging.size, paging.offset)
    return json_answer(paging.envelope([feed_http.batch_summary(r) for r in rows], total))


@routes.get("/operator/feed/batches/{batch_id}")
@operator_role(BILLING)
async def feed_batch(request: web.Request) -> web.Response:
    """One batch with its answer: each bad row's line, field and reason if it was rejected."""
    _operator(request)
    batch_id = uuid_param(request, "batch_id")
    return json_answer((await feed.batch(pool(request), batch_id)).to_dict())
