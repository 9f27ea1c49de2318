"""Paying from e-BOK: the transfer that pays the balance today (with its QR payload), and
online payment orders through PayU — the customer's routes (``/me/...``, the client number
from the token, never the URL) and the provider's notifications (public, signed)."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from aiohttp import web
from ebok_shared.api.billing import PAYMENT_ORDER_SCHEMA
from ebok_shared.clock import clock
from ebok_shared.http import params
from ebok_shared.http.jsonbody import json_answer
from ebok_shared.http.middleware import public, require
from ebok_shared.http.roles import BILLING, operator_role
from ebok_shared.http.validation import read_json
from ebok_shared.service import BUS, POOL

from . import views
from .http_common import settings, utility
from .payments import use_cases as payments
from .payments.provider import PROVIDER, PayU

routes = web.RouteTableDef()
NOTIFICATION_MAX_BYTES = 64 * 1024


def _provider(request: web.Request) -> PayU | None:
    return request.app.get(PROVIDER)


def _client_number(request: web.Request) -> str:
    return require(request, "customer").subject


def _customer_ip(request: web.Request) -> str:
    """The customer's address as the gateway forwarded it (PayU requires one)."""
    forwarded = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
    for candidate in (forwarded, request.remote or ""):
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return "127.0.0.1"


def _order_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["order_id"])
    except ValueError:
        raise params.bad("order_id", "nieprawidłowy identyfikator płatności") from None


@routes.get("/me/balance/transfer")
async def balance_transfer(request: web.Request) -> web.Response:
    client_number = _client_number(request)
    today = clock.today()
    async with request.app[POOL].acquire() as conn:
        transfer, booking = await payments.balance_transfer_today(
            conn, client_number, today, utility(request.app)
        )
    return json_answer(views.balance_transfer(client_number, transfer, today, booking))


@routes.post("/me/payment-orders")
async def start_order(request: web.Request) -> web.Response:
    client_number = _client_number(request)
    body: dict[str, Any] = await read_json(request, PAYMENT_ORDER_SCHEMA)
    choice = payments.Choice(
        body["scope"],
        tuple(body.get("invoice_numbers", ())),
        tuple(body.get("note_numbers", ())),
    )
    async with request.app[POOL].acquire() as conn:
        row = await payments.start_order(
            conn,
            request.app[BUS].outbox,
            _provider(request),
            client_number,
            choice,
            _customer_ip(request),
            clock.now(),
            clock.today(),
            settings(request.app).payment_order_validity_seconds,
        )
    return json_answer(views.payment_order(row), status=201)


@routes.get("/me/payment-orders")
async def order_history(request: web.Request) -> web.Response:
    page = params.page(request, settings(request.app).page_size_max)
    async with request.app[POOL].acquire() as conn:
        total, rows = await payments.history(conn, _client_number(request), page.size, page.offset)
    return json_answer(page.envelope([views.payment_order(r) for r in rows], total))


@routes.get("/me/payment-orders/{order_id}")
async def order(request: web.Request) -> web.Response:
    order_id = _order_id(request)
    async with request.app[POOL].acquire() as conn:
        row = await payments.own_order(
            conn,
            request.app[BUS].outbox,
            _provider(request),
            _client_number(request),
            order_id,
            clock.now(),
            settings(request.app).payment_order_validity_seconds,
        )
    return json_answer(views.payment_order(row))


@routes.post("/payments/payu/notifications")
@public
async def provider_notification(request: web.Request) -> web.Response:
    """PayU's notification: answered 200 once taken (PayU repeats it until then)."""
    if request.content_length is not None and request.content_length > NOTIFICATION_MAX_BYTES:
        raise params.bad("body", "powiadomienie jest za duże", 413)
    body = await request.read()
    key = settings(request.app).payu_second_key
    async with request.app[POOL].acquire() as conn:
        await payments.notification(
            conn,
            request.app[BUS].outbox,
            body,
            request.headers.get("OpenPayu-Signature"),
            key.reveal() if key else "",
            clock.now(),
        )
    return json_answer({"status": "OK"})


@routes.get("/operator/payment-orders/unmatched")
@operator_role(BILLING)
async def unmatched(request: web.Request) -> web.Response:
    """Paid online and never posted by the back office, posted with no order, and
    transfers whose title matched nothing."""
    require(request, "operator")
    s = settings(request.app)
    async with request.app[POOL].acquire() as conn:
        late, orphans, untitled = await payments.unmatched(
            conn, clock.now(), s.payment_booking_days, s.page_size_max
        )
    return json_answer(
        {
            "booking_days": s.payment_booking_days,
            "paid_not_posted": [
                {**views.payment_order(r), "client_number": r["client_number"]} for r in late
            ],
            "posted_without_order": [views.orphan_payment(r) for r in orphans],
            "title_unmatched": [views.orphan_payment(r) for r in untitled],
        }
    )
