"""readings HTTP handlers for customers: parse the request, call the domain and the
repository, answer. A customer reaches only the meters of their own client's contracts
(another client's meter is "not found")."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable
from decimal import Decimal
from itertools import groupby
from typing import Any

import asyncpg
from aiohttp import web
from ebok_shared.clock import clock
from ebok_shared.http.idempotency import HEADER as IDEMPOTENCY_HEADER
from ebok_shared.http.middleware import require
from ebok_shared.http.problems import Problem

from . import domain, operations, params, views
from . import repository as repo
from .context import outbox, pool, rules, settings
from .domain import CONTRACT_NUMBER_RE, METER_SERIAL_RE, SEAL_NUMBER_RE, Refusal
from .uploads import Photo, read_form_or_json

routes = web.RouteTableDef()

READING_SCHEMA = {
    "type": "object",
    "required": ["value", "read_on"],
    "additionalProperties": False,
    "properties": {
        "value": {"type": "string", "minLength": 1, "maxLength": 20},
        "read_on": {"type": "string", "minLength": 1, "maxLength": 10},
        "confirm_unusual": {"type": "boolean"},
    },
}

GARDEN_FIELDS = (
    "contract_number",
    "new_serial",
    "initial_value",
    "seal_number",
    "old_serial",
    "final_value",
)
GARDEN_SCHEMA = {
    "type": "object",
    "required": ["kind", "done_on"],
    "additionalProperties": False,
    "properties": {
        "kind": {"enum": ["installation", "replacement", "removal"]},
        "done_on": {"type": "string", "minLength": 1, "maxLength": 10},
        **{name: {"type": "string", "minLength": 1, "maxLength": 40} for name in GARDEN_FIELDS},
    },
}
# Which fields each kind of request takes (required; every other one is refused).
GARDEN_KIND_FIELDS = {
    "installation": ("new_serial", "initial_value", "seal_number"),
    "replacement": ("old_serial", "final_value", "new_serial", "initial_value", "seal_number"),
    "removal": ("old_serial", "final_value"),
}
KIND_PL = {"installation": "montażu", "replacement": "wymiany", "removal": "demontażu"}


def collect(*checks: Callable[[], Any]) -> list[Any]:
    """Run every check; refuse once, naming every field that failed."""
    results, errors = [], []
    for check in checks:
        try:
            results.append(check())
        except Refusal as exc:
            errors.append({"field": exc.field or "(body)", "reason": exc.reason})
    if errors:
        raise Problem(
            422,
            "Popraw wskazane pola: " + "; ".join(f"{e['field']}: {e['reason']}" for e in errors),
            code="validation",
            errors=errors,
        )
    return results


def idempotency_key(request: web.Request) -> str | None:
    return request.headers.get(IDEMPOTENCY_HEADER)


async def save_photo(
    conn: asyncpg.Connection, client_number: str, photo: Photo | None
) -> uuid.UUID | None:
    if photo is None:
        return None
    photo_id = uuid.uuid4()
    await repo.insert_photo(
        conn, photo_id, client_number, photo.content_type, photo.data, photo.sha256, clock.now()
    )
    return photo_id


async def window_state(conn: asyncpg.Connection, today: dt.date) -> domain.WindowState:
    mode, rows = await repo.window_config(conn)
    windows = [domain.Window(r["opens_on"], r["closes_on"]) for r in rows]
    return domain.window_state(mode, windows, today)


# -- meters and readings ---------------------------------------------------------------------


@routes.get("/me/meters")
async def my_meters(request: web.Request) -> web.Response:
    client = require(request, "customer").subject
    s = settings(request)
    today = clock.today()
    async with pool(request).acquire() as conn:
        rows = await repo.client_meters(conn, client)
        state = await window_state(conn, today)
    items = [
        views.meter(
            r, today=today, dates=s.garden_reading_dates, legalisation_years=s.legalisation_years
        )
        for r in rows
    ]
    return web.json_response({"items": items, "reading_window": views.window(state)})


@routes.get("/me/meters/{serial}/readings")
async def meter_readings(request: web.Request) -> web.Response:
    client = require(request, "customer").subject
    serial = params.serial(request)
    page = params.page(request, settings(request).page_size_max)
    async with pool(request).acquire() as conn:
        meter = await repo.client_meter(conn, serial, client)
        if meter is None:
            raise params.meter_not_found(serial)
        total, rows = await repo.readings_page(
            conn, serial, client, meter["concluded_on"], page.size, page.offset
        )
    return web.json_response(
        page.envelope(
            [views.reading(r) for r in rows],
            total,
            meter_serial=serial,
            since=meter["concluded_on"].isoformat(),
        )
    )


@routes.post("/me/meters/{serial}/readings")
async def submit_reading(request: web.Request) -> web.Response:
    client = require(request, "customer").subject
    serial = params.serial(request)
    s = settings(request)
    fields, photo = await read_form_or_json(
        request,
        READING_SCHEMA,
        json_limit=s.json_max_bytes,
        photo_limit=s.photo_max_bytes,
        booleans=("confirm_unusual",),
    )
    value, read_on = collect(
        lambda: domain.parse_m3(fields["value"], "value"),
        lambda: domain.parse_date(fields["read_on"], "read_on"),
    )
    key = idempotency_key(request)
    today, now = clock.today(), clock.now()
    try:
        async with pool(request).acquire() as conn, conn.transaction():
            if key is not None and (done := await repo.reading_by_key(conn, client, key)):
                return _reading_created(done)
            meter = await repo.client_meter(conn, serial, client, lock=True)
            if meter is None:
                raise params.meter_not_found(serial)
            state = await window_state(conn, today)
            if not state.open:
                raise domain.window_closed(state)
            row = await operations.record_reading(
                conn,
                outbox(request),
                rules(request),
                meter,
                value=value,
                read_on=read_on,
                source="customer",
                submitted_by=f"customer:{client}",
                today=today,
                now=now,
                confirm_unusual=bool(fields.get("confirm_unusual", False)),
                photo_id=await save_photo(conn, client, photo),
                idempotency_key=key,
            )
    except Refusal as exc:
        raise params.problem(exc) from None
    return _reading_created(row)


def _reading_created(row: Any) -> web.Response:
    message = (
        "Odczyt przyjęty."
        if row["status"] == "accepted"
        else "Odczyt przyjęty do weryfikacji: pracownik Spółki sprawdzi nietypowe zużycie."
    )
    return web.json_response({**views.reading(row), "message": message}, status=201)


@routes.get("/me/consumption")
async def my_consumption(request: web.Request) -> web.Response:
    """Water per month derived from the readings (m³ and the average per day), for a chart."""
    client = require(request, "customer").subject
    s = settings(request)
    first = params.query_month(request, "from")
    last = params.query_month(request, "to")
    contract = request.query.get("contract_number") or None
    if contract is not None and not CONTRACT_NUMBER_RE.match(contract):
        raise params.bad("contract_number", "nieprawidłowy numer umowy")
    today = clock.today()
    last = last or f"{today.year:04d}-{today.month:02d}"
    if first is None:
        year, month = divmod(int(last[:4]) * 12 + int(last[5:]) - 1 - 23, 12)
        first = f"{year:04d}-{month + 1:02d}"
    span = (int(last[:4]) * 12 + int(last[5:])) - (int(first[:4]) * 12 + int(first[5:])) + 1
    if span < 1:
        raise params.bad("from", "początek okresu jest późniejszy niż jego koniec")
    if span > s.consumption_max_months:
        raise params.bad("to", f"okres może obejmować najwyżej {s.consumption_max_months} miesięcy")
    async with pool(request).acquire() as conn:
        if contract is not None:
            owned = {c["contract_number"] for c in await repo.client_contracts(conn, client)}
            if contract not in owned:
                raise Problem(
                    404, "Nie znaleziono takiej umowy wśród Twoich umów.", code="contract-not-found"
                )
        rows = await repo.consumption_points(conn, client, contract)
    series = [
        domain.Series(
            serial,
            group[0]["kind"],
            tuple(domain.Point(r["read_on"], r["value"], r["role"]) for r in group),
        )
        for serial, grouped in groupby(rows, key=lambda r: r["meter_serial"])
        for group in [list(grouped)]
    ]
    months = views.months(domain.monthly_consumption(series), first, last)
    water = sum((Decimal(m["water_m3"]) for m in months), Decimal("0"))
    garden = sum((Decimal(m["garden_m3"]) for m in months), Decimal("0"))
    return web.json_response(
        {
            "from": first,
            "to": last,
            "contract_number": contract,
            "unit": "m3",
            "months": months,
            "total_water_m3": domain.m3(water),
            "total_garden_m3": domain.m3(garden),
        }
    )


# -- garden-meter requests -------------------------------------------------------------------


def _garden_request(fields: dict[str, Any]) -> operations.GardenRequest:
    kind = fields["kind"]
    wanted = GARDEN_KIND_FIELDS[kind]
    checks: list[Callable[[], Any]] = [lambda: domain.parse_date(fields["done_on"], "done_on")]
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
            checks.append(functools.partial(domain.parse_m3, fields[name], name))
    done_on, *_ = collect(*checks)
    value = {
        n: domain.parse_m3(fields[n], n) for n in ("initial_value", "final_value") if n in fields
    }
    return operations.GardenRequest(
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
        raise domain.invalid(field, reason)

    return check


# ``open``: not decided yet (the gateway's dashboard asks for these).
CUSTOMER_REQUEST_STATUSES = ("submitted", "accepted", "rejected", "open")


@routes.get("/me/garden-meter-requests")
async def my_garden_requests(request: web.Request) -> web.Response:
    """The customer's requests, newest first; ``?status=`` one status, or ``open``."""
    client = require(request, "customer").subject
    status = params.query_choice(request, "status", CUSTOMER_REQUEST_STATUSES)
    page = params.page(request, settings(request).page_size_max)
    async with pool(request).acquire() as conn:
        total, rows = await repo.requests_page(
            conn,
            client_number=client,
            status="submitted" if status == "open" else status,
            limit=page.size,
            offset=page.offset,
        )
        history = await repo.histories(conn, [r["id"] for r in rows])
    return web.json_response(
        page.envelope([views.garden_request(r, history[r["id"]]) for r in rows], total)
    )


@routes.post("/me/garden-meter-requests")
async def submit_garden_request(request: web.Request) -> web.Response:
    client = require(request, "customer").subject
    s = settings(request)
    fields, photo = await read_form_or_json(
        request, GARDEN_SCHEMA, json_limit=s.json_max_bytes, photo_limit=s.photo_max_bytes
    )
    wanted = _garden_request(fields)
    key = idempotency_key(request)
    try:
        async with pool(request).acquire() as conn, conn.transaction():
            done = await repo.request_by_key(conn, client, key) if key is not None else None
            if done is None:
                done = await operations.submit_garden_request(
                    conn,
                    outbox(request),
                    client,
                    wanted,
                    today=clock.today(),
                    now=clock.now(),
                    photo_id=await save_photo(conn, client, photo),
                    idempotency_key=key,
                )
            history = await repo.histories(conn, [done["id"]])
    except Refusal as exc:
        raise params.problem(exc) from None
    return web.json_response(
        {
            **views.garden_request(done, history[done["id"]]),
            "message": "Zgłoszenie przekazano do rozpatrzenia przez Spółkę.",
        },
        status=201,
    )


# -- GDPR export ----------------------------------------------------------------------------


@routes.get("/me/export")
async def my_export(request: web.Request) -> web.Response:
    """This service's part of the customer's data export."""
    client = require(request, "customer").subject

    def rows(found: list[Any], drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        return [{k: views.stringify(v) for k, v in r.items() if k not in drop} for r in found]

    async with pool(request).acquire() as conn:
        contracts = await repo.client_contracts(conn, client)
        meters = await repo.client_meters(conn, client)
        readings = await repo.client_readings(conn, client)
        _, requests = await repo.requests_page(
            conn, client_number=client, status=None, limit=10_000, offset=0
        )
        history = await repo.histories(conn, [r["id"] for r in requests])
        photos = await conn.fetch(
            "SELECT id, content_type, size, sha256, uploaded_at FROM photos"
            " WHERE client_number = $1 ORDER BY uploaded_at",
            client,
        )
        reminders = await repo.client_reminders(conn, client)
    meter_fields = (
        "serial",
        "kind",
        "contract_number",
        "installed_on",
        "initial_value",
        "removed_on",
        "final_value",
        "seal_number",
        "sealed_on",
        "replaces",
        "replaced_by",
    )
    return web.json_response(
        {
            "service": "readings",
            "generated_at": clock.now().isoformat(),
            "client_number": client,
            "contracts": rows(contracts, drop=("updated_at",)),
            "meters": [{k: views.stringify(m[k]) for k in meter_fields} for m in meters],
            "readings": rows(readings, drop=("idempotency_key",)),
            "garden_meter_requests": [
                {
                    **{k: views.stringify(v) for k, v in r.items() if k != "idempotency_key"},
                    "history": rows(history[r["id"]], drop=("id", "request_id")),
                }
                for r in requests
            ],
            "photos": rows(photos),
            "reminders_sent": rows(reminders),
            "note": (
                "Zdjęcia wodomierzy przechowujemy jako dowód odczytu; ich treść udostępniamy "
                "na żądanie w Dziale Obsługi Klienta."
            ),
        }
    )
