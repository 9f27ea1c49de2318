"""Customer HTTP handlers (``/me/...``, kind customer): parse the request, call one use case,
render the answer. A customer reaches only the meters of their own client's contracts
(another client's meter is "not found")."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aiohttp import web
from ebok_shared.api.readings import (
    GARDEN_FIELDS,
    GARDEN_KIND_FIELDS,
    GARDEN_SCHEMA,
    READING_SCHEMA,
)
from ebok_shared.clock import clock
from ebok_shared.http.idempotency import HEADER as IDEMPOTENCY_HEADER
from ebok_shared.http.jsonbody import json_answer
from ebok_shared.http.middleware import allow_restricted, require
from ebok_shared.http.params import bad, page, query_choice, query_month
from ebok_shared.refusals import gather, invalid

from . import views
from .clients import use_cases as clients
from .common.values import CONTRACT_NUMBER_RE, METER_SERIAL_RE, SEAL_NUMBER_RE, parse_date, parse_m3
from .garden import use_cases as garden
from .garden.domain import GardenRequest
from .http_bodies import read_form_or_json
from .http_common import outbox, pool, rules, serial, settings, uuid_param
from .meters import use_cases as meters
from .readings import use_cases as readings

routes = web.RouteTableDef()

KIND_PL = {"installation": "montażu", "replacement": "wymiany", "removal": "demontażu"}
# ``open``: not decided yet (the gateway's dashboard asks for these).
CUSTOMER_REQUEST_STATUSES = ("submitted", "accepted", "rejected", "open")


# -- meters and readings ---------------------------------------------------------------------


@routes.get("/me/meters")
async def my_meters(request: web.Request) -> web.Response:
    client = require(request, "customer").subject
    s = settings(request)
    rows, state = await meters.client_meters(pool(request), client)
    today = clock.today()
    items = [
        views.meter(
            r, today=today, dates=s.garden_reading_dates, legalisation_years=s.legalisation_years
        )
        for r in rows
    ]
    return json_answer({"items": items, "reading_window": views.window(state)})


@routes.get("/me/meters/{serial}/readings")
async def meter_readings(request: web.Request) -> web.Response:
    client = require(request, "customer").subject
    meter = serial(request)
    paging = page(request, settings(request).page_size_max)
    found = await readings.meter_readings(pool(request), client, meter, paging.size, paging.offset)
    return json_answer(
        paging.envelope(
            [views.reading(r) for r in found.rows],
            found.total,
            meter_serial=meter,
            since=found.since.isoformat(),
        )
    )


@routes.post("/me/meters/{serial}/readings")
async def submit_reading(request: web.Request) -> web.Response:
    client = require(request, "customer").subject
    meter = serial(request)
    s = settings(request)
    fields, photo = await read_form_or_json(
        request,
        READING_SCHEMA,
        json_limit=s.json_max_bytes,
        photo_limit=s.photo_max_bytes,
        booleans=("confirm_unusual",),
    )
    value, read_on = gather(
        lambda: parse_m3(fields["value"], "value"),
        lambda: parse_date(fields["read_on"], "read_on"),
    )
    row = await readings.submit_reading(
        pool(request),
        outbox(request),
        rules(request),
        readings.SubmitReading(
            client_number=client,
            serial=meter,
            value=value,
            read_on=read_on,
            confirm_unusual=bool(fields.get("confirm_unusual", False)),
            photo=photo,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER),
        ),
    )
    return json_answer(views.reading_created(row), status=201)


@routes.get("/me/consumption")
async def my_consumption(request: web.Request) -> web.Response:
    """Water per month derived from the readings (m³ and the average per day), for a chart."""
    client = require(request, "customer").subject
    s = settings(request)
    first = query_month(request, "from")
    last = query_month(request, "to")
    contract = request.query.get("contract_number") or None
    if contract is not None and not CONTRACT_NUMBER_RE.match(contract):
        raise bad("contract_number", "nieprawidłowy numer umowy")
    today = clock.today()
    last = last or f"{today.year:04d}-{today.month:02d}"
    if first is None:
        year, month = divmod(int(last[:4]) * 12 + int(last[5:]) - 1 - 23, 12)
        first = f"{year:04d}-{month + 1:02d}"
    span = (int(last[:4]) * 12 + int(last[5:])) - (int(first[:4]) * 12 + int(first[5:])) + 1
    if span < 1:
        raise bad("from", "początek okresu jest późniejszy niż jego koniec")
    if span > s.consumption_max_months:
        raise bad("to", f"okres może obejmować najwyżej {s.consumption_max_months} miesięcy")
    months = await readings.monthly_consumption(pool(request), client, contract, first, last)
    return json_answer(views.consumption(months, first, last, contract))


# -- garden-meter requests -------------------------------------------------------------------


def _garden_request(fields: dict[str, Any]) -> GardenRequest:
    kind = fields["kind"]
    wanted = GARDEN_KIND_FIELDS[kind]
    checks: list[Callable[[], Any]] = [lambda: parse_date(fields["done_on"], "done_on")]
    for name in wanted:
        if name not in fields:
            checks.append(_fail(name, f"pole jest wymagane przy zgłoszeniu {KIND_PL[kind]}"))
    for name in GARDEN_FIELDS:
        if name in fields and name not in wanted and name != "contract_number":
            checks.append(_fail(name, f"pole nie dotyczy zgłoszenia {KIND_PL[kind]}"))
    if kind != "installation" and "contract_number" in fields:
        checks.append(
            _fail("contract_number", "umowę wskazuje wymieniany lub demontowany wodomierz")
        )
    for name in ("new_serial", "old_serial"):
        if name in fields and not METER_SERIAL_RE.match(fields[name]):
            checks.append(
                _fail(
                    name, "nieprawidłowy numer wodomierza (wielkie litery, cyfry i -, 3–30 znaków)"
                )
            )
    if "contract_number" in fields and not CONTRACT_NUMBER_RE.match(fields["contract_number"]):
        checks.append(_fail("contract_number", "nieprawidłowy numer umowy"))
    if "seal_number" in fields and not SEAL_NUMBER_RE.match(fields["seal_number"]):
        checks.append(_fail("seal_number", "nieprawidłowy numer plomby (litery, cyfry, / i -)"))
    for name in ("initial_value", "final_value"):
        if name in fields:
            checks.append(functools.partial(parse_m3, fields[name], name))
    done_on, *_ = gather(*checks)
    value = {n: parse_m3(fields[n], n) for n in ("initial_value", "final_value") if n in fields}
    return GardenRequest(
        kind=kind,
        done_on=done_on,
        contract_number=fields.get("contract_number"),
        new_serial=fields.get("new_serial"),
        initial_value=value.get("initial_value"),
        seal_number=fields.get("seal_number"),
        old_serial=fields.get("old_serial"),
        final_value=value.get("final_value"),
    )


def _fail(field: str, reason: str) -> Callable[[], None]:
    def check() -> None:
        raise invalid(field, reason)

    return check


@routes.get("/me/garden-meter-requests")
async def my_garden_requests(request: web.Request) -> web.Response:
    """The customer's requests, newest first; ``?status=`` one status, or ``open``."""
    client = require(request, "customer").subject
    status = query_choice(request, "status", CUSTOMER_REQUEST_STATUSES)
    paging = page(request, settings(request).page_size_max)
    found = await garden.requests(
        pool(request),
        client_number=client,
        status="submitted" if status == "open" else status,
        limit=paging.size,
        offset=paging.offset,
    )
    return json_answer(
        paging.envelope(
            [views.garden_request(q.row, q.history) for q in found.requests], found.total
        )
    )


@routes.post("/me/garden-meter-requests")
async def submit_garden_request(request: web.Request) -> web.Response:
    client = require(request, "customer").subject
    s = settings(request)
    fields, photo = await read_form_or_json(
        request, GARDEN_SCHEMA, json_limit=s.json_max_bytes, photo_limit=s.photo_max_bytes
    )
    done = await garden.submit_garden_request(
        pool(request),
        outbox(request),
        garden.SubmitGardenRequest(
            client_number=client,
            request=_garden_request(fields),
            photo=photo,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER),
        ),
    )
    return json_answer(
        {
            **views.garden_request(done.row, done.history),
            "message": "Zgłoszenie przekazano do rozpatrzenia przez Spółkę.",
        },
        status=201,
    )


# -- GDPR export ----------------------------------------------------------------------------


@routes.get("/me/photos/{photo_id}")
@allow_restricted("regulations")  # part of the export, a GDPR right
async def my_photo(request: web.Request) -> web.Response:
    """A photo the customer sent with a reading or a garden-meter request (their own only)."""
    client = require(request, "customer").subject
    row = await readings.photo(pool(request), uuid_param(request, "photo_id"), client)
    return web.Response(
        body=row["data"],
        content_type=row["content_type"],
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
    )


@routes.get("/me/export")
@allow_restricted("regulations")  # a GDPR right, whatever terms are accepted
async def my_export(request: web.Request) -> web.Response:
    """This service's part of the customer's data export."""
    client = require(request, "customer").subject
    found = await clients.export(pool(request), client)
    return json_answer(views.export(client, found, clock.now()))
