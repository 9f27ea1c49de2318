"""Pages of paying online: „Zapłać” (the balance today, or one invoice) starts an order in
billing through the gateway — the amount is billing's, never the form's — then the order's
page sends the customer to the payment provider and is where the provider returns them;
and the history of online payments."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from .access import api, customer_page
from .forms import read_form
from .part_state import fetch, found_or_404
from .rendering import redirect, render

routes = web.RouteTableDef()

PAYMENTS = "/platnosci"
PAGE_SIZE = 10
_INVOICE = re.compile(r"^\d{10,20}$")
_ORDER = r"{order_id:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}}"


@routes.post(PAYMENTS)
@customer_page()
async def start(request: web.Request) -> web.StreamResponse:
    """From the balance (``scope=balance``) or an invoice (``invoice=<number>``)."""
    form = await read_form(request)
    invoice = form.value("invoice")
    body: dict[str, Any] = {"scope": "balance"}
    back = "/saldo"
    if invoice:
        if not _INVOICE.match(invoice):
            return _refused(request, "Nieprawidłowy numer faktury.", back, 422)
        body = {"scope": "documents", "invoice_numbers": [invoice]}
        back = f"/faktury/{invoice}"
    reply = await api(request).post("/me/payment-orders", json_body=body)
    if reply.ok:
        redirect(f"{PAYMENTS}/{reply.json()['order_id']}")
    if reply.status >= 500 and reply.code not in ("provider-unavailable", "payments-off"):
        detail = "Nie udało się teraz rozpocząć płatności. Spróbuj ponownie za kilka minut."
    else:
        errors = reply.problem.get("errors") or []
        reasons = [str(e.get("reason")) for e in errors if isinstance(e, dict)]
        detail = str(reply.problem.get("detail") or "Nie można rozpocząć płatności.")
        if reasons and reply.status == 422:
            detail = "Nie można rozpocząć płatności: " + "; ".join(reasons) + "."
    return _refused(request, detail, back, 409 if reply.status < 500 else 503)


def _refused(request: web.Request, detail: str, back: str, status: int) -> web.Response:
    return render(
        request,
        "payments/refused.html",
        title="Płatność online — nie rozpoczęto",
        detail=detail,
        back=back,
        status=status,
    )


@routes.get(PAYMENTS + "/" + _ORDER)
@customer_page()
async def order(request: web.Request) -> web.StreamResponse:
    """The order's state (billing checks a pending one with the provider): where the
    customer goes to pay, and where the provider returns them."""
    order_id = request.match_info["order_id"]
    part = found_or_404(await fetch(api(request), f"/me/payment-orders/{order_id}"))
    return render(request, "payments/order.html", title="Płatność online", part=part)


@routes.get(PAYMENTS)
@customer_page()
async def history(request: web.Request) -> web.StreamResponse:
    raw = request.query.get("strona", "1")
    page = int(raw) if raw.isdigit() and 0 < int(raw) < 10_000 else 1
    part = await fetch(
        api(request),
        "/me/payment-orders",
        params={"page": str(page), "page_size": str(PAGE_SIZE)},
    )
    return render(
        request,
        "payments/history.html",
        title="Płatności online",
        part=part,
        page=page,
        page_size=PAGE_SIZE,
    )
