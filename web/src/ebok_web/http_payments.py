"""Pages of paying online: „Zapłać” (the balance today, or one invoice) starts an order in
billing through the gateway — the amount is billing's, never the form's — then the order's
page sends the customer to the payment provider and is where the provider returns them;
and the history of online payments."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web

from .access import api, customer_page
from .forms import Form
from .part_state import fetch, found_or_404
from .rendering import redirect, render

routes = web.RouteTableDef()

PAYMENTS = "/platnosci"
PAGE_SIZE = 10
CHOOSER = PAYMENTS + "/wybor"
MAX_DOCUMENTS = 50  # ticked at once (the API's limit on the lists)
MAX_LISTED = 100  # unpaid documents listed to choose from
UNPAID = ("unpaid", "partly_paid", "overdue")
_INVOICE = re.compile(r"^\d{10,20}$")
_NOTE = re.compile(r"^NO/\d{10,20}/\d{2}$")
_ORDER = r"{order_id:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}}"


@routes.post(PAYMENTS)
@customer_page()
async def start(request: web.Request) -> web.StreamResponse:
    """From the balance (nothing chosen: the balance today), an invoice's page
    (``invoice=<number>``) or the chooser (``invoice`` and ``note``, each any number of
    times)."""
    data = await request.post()
    # Each number once, in the order ticked (a repeated one is the same document).
    invoices = list(
        dict.fromkeys(v.strip() for v in data.getall("invoice", []) if isinstance(v, str))
    )
    notes = list(dict.fromkeys(v.strip() for v in data.getall("note", []) if isinstance(v, str)))
    chooser = data.get("from") == "wybor"
    body: dict[str, Any] = {"scope": "balance"}
    back = "/saldo"
    if chooser or invoices or notes:
        back = CHOOSER if chooser or len(invoices) != 1 or notes else f"/faktury/{invoices[0]}"
        form = Form(values={"invoice": ",".join(invoices), "note": ",".join(notes)})
        if not invoices and not notes:
            form.error("documents", "Wybierz co najmniej jedną fakturę lub notę odsetkową.")
        elif len(invoices) + len(notes) > MAX_DOCUMENTS:
            form.error("documents", f"Wybierz najwyżej {MAX_DOCUMENTS} dokumentów naraz.")
        elif not all(_INVOICE.match(n) for n in invoices) or not all(_NOTE.match(n) for n in notes):
            form.error("documents", "Nieprawidłowy numer faktury lub noty odsetkowej.")
        if form.invalid:
            if chooser:
                return await _chooser_page(request, form, status=422)
            return _refused(request, "Nieprawidłowy numer faktury.", back, 422)
        body = {"scope": "documents"}
        if invoices:
            body["invoice_numbers"] = invoices
        if notes:
            body["note_numbers"] = notes
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


async def _chooser_page(request: web.Request, form: Form, status: int = 200) -> web.Response:
    """The customer's unpaid invoices and interest notes, each to tick; billing computes
    the amount of what is ticked (with interest to today on overdue invoices)."""
    window = {"page": "1", "page_size": str(MAX_LISTED)}
    invoices, notes = await asyncio.gather(
        fetch(api(request), "/me/invoices", params=window),
        fetch(api(request), "/me/interest-notes", params=window),
    )
    chosen_invoices = set(filter(None, form.value("invoice").split(",")))
    chosen_notes = set(filter(None, form.value("note").split(",")))
    return render(
        request,
        "payments/choose.html",
        title="Wybierz, co chcesz zapłacić",
        form=form,
        invoices=[i for i in invoices.data["items"] if i["status"] in UNPAID]
        if invoices.ok
        else None,
        notes=[n for n in notes.data["items"] if n["status"] != "paid"] if notes.ok else None,
        chosen_invoices=chosen_invoices,
        chosen_notes=chosen_notes,
        status=status,
    )


@routes.get(CHOOSER)
@customer_page()
async def choose(request: web.Request) -> web.StreamResponse:
    return await _chooser_page(request, Form())


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
