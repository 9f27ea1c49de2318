"""Operator routes (``/operator/...``): feed batches, the interest rate table, NBP EUR rates,
tariffs, on-demand interest notes."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from aiohttp import web
from ebok_shared.api.billing import EUR_RATE_SCHEMA, RATE_SCHEMA, TARIFF_SCHEMA
from ebok_shared.clock import clock
from ebok_shared.http import feed as feed_http
from ebok_shared.http import params
from ebok_shared.http.jsonbody import json_answer
from ebok_shared.http.middleware import require
from ebok_shared.http.roles import BILLING, operator_role
from ebok_shared.http.validation import read_json
from ebok_shared.service import BUS, POOL

from . import views
from .billing_run import use_cases as billing_run
from .billing_run.domain import Tariff
from .common.money import amount, rate
from .feed import use_cases as feed
from .http_common import invoice_number, settings
from .interest import use_cases as interest

routes = web.RouteTableDef()


def _operator(request: web.Request) -> str:
    return f"operator:{require(request, 'operator').subject}"


@routes.post("/operator/feed/batches")
@operator_role(BILLING)
async def post_batch(request: web.Request) -> web.Response:
    submitted_by = _operator(request)
    cfg = settings(request.app)
    fmt, raw = await feed_http.read_batch(request, cfg.feed_max_bytes)
    async with request.app[POOL].acquire() as conn:
        result = await feed.apply_batch(
            conn,
            request.app[BUS].outbox,
            raw,
            fmt,
            submitted_by=submitted_by,
            today=clock.today(),
            max_rows=cfg.feed_max_rows,
        )
    return feed_http.answer(result)


@routes.get("/operator/feed/batches")
@operator_role(BILLING)
async def list_batches(request: web.Request) -> web.Response:
    require(request, "operator")
    page = params.page(request, settings(request.app).page_size_max)
    async with request.app[POOL].acquire() as conn:
        total, rows = await feed.batch_page(conn, page.size, page.offset)
    items = [feed_http.batch_summary(r) for r in rows]
    return json_answer(page.envelope(items, total))


@routes.get("/operator/feed/batches/{batch_id}")
@operator_role(BILLING)
async def get_batch(request: web.Request) -> web.Response:
    require(request, "operator")
    try:
        batch_id = uuid.UUID(request.match_info["batch_id"])
    except ValueError:
        raise params.bad("batch_id", "identyfikator partii to UUID") from None
    async with request.app[POOL].acquire() as conn:
        result = await feed.batch(conn, batch_id)
    return json_answer(result.to_dict())


@routes.get("/operator/interest-rates")
@operator_role(BILLING)
async def get_rates(request: web.Request) -> web.Response:
    require(request, "operator")
    async with request.app[POOL].acquire() as conn:
        rows = await interest.rate_rows(conn)
    return json_answer(
        {
            "items": [
                {
                    "effective_from": r["effective_from"].isoformat(),
                    "reference_rate_percent": rate(r["reference_rate_percent"]),
                    "household_rate_percent": rate(r["reference_rate_percent"] + Decimal("5.5")),
                    "added_by": r["added_by"],
                    "added_at": r["added_at"].isoformat(),
                }
                for r in rows
            ]
        }
    )


@routes.post("/operator/interest-rates")
@operator_role(BILLING)
async def post_rate(request: web.Request) -> web.Response:
    who = _operator(request)
    body = await read_json(request, RATE_SCHEMA)
    effective_from = date.fromisoformat(body["effective_from"])
    async with request.app[POOL].acquire() as conn:
        await interest.add_rate(conn, effective_from, Decimal(body["reference_rate_percent"]), who)
    return json_answer(
        {
            "effective_from": effective_from.isoformat(),
            "reference_rate_percent": body["reference_rate_percent"],
        },
        status=201,
    )


@routes.get("/operator/eur-rates")
@operator_role(BILLING)
async def get_eur_rates(request: web.Request) -> web.Response:
    """NBP average EUR rates (table A) the recovery compensation is converted by."""
    require(request, "operator")
    async with request.app[POOL].acquire() as conn:
        rows = await interest.eur_rate_rows(conn)
    return json_answer(
        {
            "items": [
                {
                    "rate_date": r["rate_date"].isoformat(),
                    "eur_pln": f"{r['eur_pln']:.4f}",
                    "table_number": r["table_number"],
                    "added_by": r["added_by"],
                    "added_at": r["added_at"].isoformat(),
                }
                for r in rows
            ]
        }
    )


@routes.post("/operator/eur-rates")
@operator_role(BILLING)
async def post_eur_rate(request: web.Request) -> web.Response:
    """Add one day's NBP average EUR rate; the same rate again answers 200, another 409."""
    who = _operator(request)
    body = await read_json(request, EUR_RATE_SCHEMA)
    rate_date = date.fromisoformat(body["rate_date"])
    eur_pln = Decimal(body["eur_pln"])
    if eur_pln <= 0:
        raise params.bad("eur_pln", "kurs musi być większy od zera", 422)
    async with request.app[POOL].acquire() as conn:
        added = await interest.add_eur_rate(conn, rate_date, eur_pln, body.get("table_number"), who)
    return json_answer(
        {
            "rate_date": rate_date.isoformat(),
            "eur_pln": f"{eur_pln:.4f}",
            "table_number": body.get("table_number"),
        },
        status=201 if added else 200,
    )


@routes.post("/operator/invoices/{number}/interest-notes")
@operator_role(BILLING)
async def post_on_demand_note(request: web.Request) -> web.Response:
    require(request, "operator")
    number = invoice_number(request)
    async with request.app[POOL].acquire() as conn:
        note, created = await interest.issue_on_demand_note(
            conn, request.app[BUS].outbox, number, clock.today()
        )
    return json_answer(views.note(note, clock.today()), status=201 if created else 200)


@routes.get("/operator/tariffs")
@operator_role(BILLING)
async def get_tariffs(request: web.Request) -> web.Response:
    require(request, "operator")
    async with request.app[POOL].acquire() as conn:
        rows = await billing_run.tariffs(conn)
    return json_answer(
        {
            "items": [
                {
                    "tariff_group": r["tariff_group"],
                    "valid_from": r["valid_from"].isoformat(),
                    "water_price": f"{r['water_price'].normalize():f}",
                    "sewage_price": f"{r['sewage_price'].normalize():f}",
                    "subscription_fee": amount(r["subscription_fee"]),
                    "vat_rate": rate(r["vat_rate"]),
                    "changed_by": r["changed_by"],
                    "changed_at": r["changed_at"].isoformat(),
                }
                for r in rows
            ]
        }
    )


@routes.get("/operator/tariffs/changes")
@operator_role(BILLING)
async def get_tariff_changes(request: web.Request) -> web.Response:
    """Every change of a tariff, the newest first, with who made it and when (paged)."""
    require(request, "operator")
    page = params.page(request, settings(request.app).page_size_max)
    async with request.app[POOL].acquire() as conn:
        total, rows = await billing_run.tariff_changes(conn, page.size, page.offset)
    items = [
        {
            "tariff_group": r["tariff_group"],
            "valid_from": r["valid_from"].isoformat(),
            "water_price": f"{r['water_price'].normalize():f}",
            "sewage_price": f"{r['sewage_price'].normalize():f}",
            "subscription_fee": amount(r["subscription_fee"]),
            "vat_rate": rate(r["vat_rate"]),
            "replaced": r["replaced"],
            "changed_by": r["changed_by"],
            "changed_at": r["changed_at"].isoformat(),
        }
        for r in rows
    ]
    return json_answer(page.envelope(items, total))


@routes.put("/operator/tariffs")
@operator_role(BILLING)
async def put_tariff(request: web.Request) -> web.Response:
    who = _operator(request)
    body = await read_json(request, TARIFF_SCHEMA)
    tariff = Tariff(
        body["tariff_group"],
        date.fromisoformat(body["valid_from"]),
        Decimal(body["water_price"]),
        Decimal(body["sewage_price"]),
        Decimal(body["subscription_fee"]),
        Decimal(body["vat_rate"]),
    )
    async with request.app[POOL].acquire() as conn:
        await billing_run.put_tariff(conn, tariff, who)
    return json_answer(body)
