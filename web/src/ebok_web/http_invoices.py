"""Pages of the customer portal: invoices (list with filters, detail, PDF copy), the balance
with interest worked out per rate period, interest notes, and the e-invoice (accept, change
the address, withdraw — each with its confirmation state).

Fixed paths (``/faktury/e-faktura``…) are registered before the invoice's own and the
invoice number is digits only, so ``/faktury/{number}`` never takes another page's address
(``/faktury/e-faktura/potwierdz`` belongs to the public pages).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from aiohttp import web

from .access import api, customer_page, session_of
from .forms import Form, read_form, require
from .gateway import Reply
from .part_state import document, fetch, found_or_404
from .qr import qr_svg
from .rendering import redirect, render
from .sections import read_only

routes = web.RouteTableDef()

PAGE_SIZE = 10
STATUSES = (
    ("", "wszystkie"),
    ("unpaid", "nieopłacone"),
    ("partly_paid", "opłacone częściowo"),
    ("paid", "opłacone"),
    ("overdue", "po terminie płatności"),
    ("corrected", "skorygowane"),
)
# The list's filters: the page's (Polish) query names → the API's.
FILTERS = {"od": "from", "do": "to", "status": "status"}
E_INVOICE = "/faktury/e-faktura"


def _page_number(request: web.Request) -> int:
    raw = request.query.get("page", "")
    return int(raw) if raw.isdigit() and 0 < int(raw) <= 100_000 else 1


# -- invoices ---------------------------------------------------------------------------------


@routes.get("/faktury")
@customer_page()
async def invoices(request: web.Request) -> web.StreamResponse:
    form = Form(values={name: request.query.get(name, "").strip() for name in FILTERS})
    page = _page_number(request)
    params = {FILTERS[name]: value for name, value in form.values.items() if value}
    part = await fetch(
        api(request),
        "/me/invoices",
        params={**params, "page": str(page), "page_size": str(PAGE_SIZE)},
    )
    status = 200
    if part.state == "error":
        form.take_problem(part.problem, {wire: name for name, wire in FILTERS.items()})
        status = 422
    return render(
        request,
        "invoices/list.html",
        title="Faktury" if page == 1 else f"Faktury — strona {page}",
        part=part,
        form=form,
        statuses=STATUSES,
        page=page,
        page_size=PAGE_SIZE,
        filters={name: value for name, value in form.values.items() if value},
        status=status,
    )


@routes.get(E_INVOICE)
@customer_page()
async def e_invoice(request: web.Request) -> web.StreamResponse:
    return await _e_invoice_page(request, Form())


async def _e_invoice_page(
    request: web.Request, form: Form, *, status: int = 200, message: str = ""
) -> web.Response:
    part = await fetch(api(request), "/me/e-invoice")
    return render(
        request,
        "invoices/e_invoice.html",
        title="E-faktura",
        part=part,
        read_only=await read_only(request, "e_invoices"),
        form=form,
        message=message,
        status=status,
    )


@routes.post(E_INVOICE)
@customer_page()
async def e_invoice_address(request: web.Request) -> web.StreamResponse:
    """Accept e-invoices, or change their address: either way a link goes to the address
    and nothing changes until it is followed."""
    form = await read_form(request)
    require(form, "email", message="Wpisz adres e-mail, na który mamy wysyłać e-faktury.")
    if not form.invalid:
        reply = await api(request).put("/me/e-invoice", json_body={"email": form.value("email")})
        if reply.ok:
            _flash(request, str(reply.json().get("message") or "Wysłaliśmy link potwierdzający."))
            redirect(E_INVOICE)
        _refused(form, reply)
    return await _e_invoice_page(request, form, status=422)


def _refused(form: Form, reply: Reply) -> None:
    if reply.status >= 500 and reply.code != "section-suspended":
        form.detail = "Nie udało się teraz zapisać zmiany. Spróbuj ponownie za kilka minut."
        return
    form.take_problem(reply.problem, {"email": "email"}, known=("email",))


def _flash(request: web.Request, message: str) -> None:
    session = session_of(request)
    if session is not None:
        session.flash.append(message)


@routes.get(E_INVOICE + "/wycofanie")
@customer_page()
async def e_invoice_withdrawal(request: web.Request) -> web.StreamResponse:
    part = await fetch(api(request), "/me/e-invoice")
    return render(
        request,
        "invoices/e_invoice_withdraw.html",
        title="Wycofanie zgody na e-fakturę",
        part=part,
        form=Form(),
    )


@routes.post(E_INVOICE + "/wycofanie")
@customer_page()
async def e_invoice_withdraw(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    reply = await api(request).delete("/me/e-invoice")
    if reply.ok:
        _flash(request, str(reply.json().get("message") or "Zgoda na e-fakturę wycofana."))
        redirect(E_INVOICE)
    _refused(form, reply)
    part = await fetch(api(request), "/me/e-invoice")
    return render(
        request,
        "invoices/e_invoice_withdraw.html",
        title="Wycofanie zgody na e-fakturę",
        part=part,
        form=form,
        status=422,
    )


@routes.get(r"/faktury/{number:\d{1,30}}/pdf")
@customer_page()
async def invoice_pdf(request: web.Request) -> web.StreamResponse:
    number = request.match_info["number"]
    reply = await api(request).get(f"/me/invoices/{number}/pdf")
    return document(reply, f"faktura-{number}.pdf")


@routes.get(r"/faktury/{number:\d{1,30}}")
@customer_page()
async def invoice(request: web.Request) -> web.StreamResponse:
    number = request.match_info["number"]
    part = found_or_404(await fetch(api(request), f"/me/invoices/{number}"))
    return render(
        request,
        "invoices/detail.html",
        title=f"Faktura {number}",
        number=number,
        part=part,
        lines=_lines(part.data) if part.ok else [],
    )


def _lines(invoice: dict[str, Any]) -> list[dict[str, Any]]:
    units = {"m3": "m³", "okres": "okres"}
    return [{**line, "unit": units.get(line["unit"], line["unit"])} for line in invoice["lines"]]


# -- balance and interest notes -----------------------------------------------------------------


@routes.get("/saldo")
@customer_page()
async def balance(request: web.Request) -> web.StreamResponse:
    part, transfer = await asyncio.gather(
        fetch(api(request), "/me/balance"), fetch(api(request), "/me/balance/transfer")
    )
    code = transfer.data["transfer"] if transfer.ok else None
    return render(
        request,
        "invoices/balance.html",
        title="Saldo i odsetki",
        part=part,
        today_total=_if_paid_today(part.data) if part.ok else None,
        transfer=code,
        transfer_qr=qr_svg(code["qr_payload"], TRANSFER_QR_TITLE) if code else None,
        booking=_booking(transfer.data) if transfer.ok else None,
    )


def _booking(data: dict[str, Any]) -> Decimal | None:
    """Online payments paid and not yet posted by the back office (None: none)."""
    amount = Decimal(str(data.get("being_booked") or "0"))
    return amount if amount > 0 else None


TRANSFER_QR_TITLE = "Kod QR przelewu do zapłaty na dziś (dane przelewu obok kodu)"


def _if_paid_today(data: dict[str, Any]) -> Decimal | None:
    """All the customer owes if they pay today: the balance, the interest accrued on overdue
    invoices to today and the recovery compensation due with it (None: some part of it
    cannot be said — no NBP rate to reckon the compensation or the interest by)."""
    if data["balance"]["position"] != "due":
        return None
    total = Decimal(data["balance"]["amount"])
    for overdue in data["overdue"]["invoices"]:
        interest = overdue["interest"]
        if not interest.get("available") or interest.get("to_pay_if_paid_today") is None:
            return None
        total += Decimal(interest["accrued_to_today"])
        compensation = overdue.get("recovery_compensation") or {}
        if compensation.get("state") == "due":
            total += Decimal(compensation["pln"])
    return total


@routes.get("/noty-odsetkowe")
@customer_page()
async def interest_notes(request: web.Request) -> web.StreamResponse:
    page = _page_number(request)
    part = await fetch(
        api(request),
        "/me/interest-notes",
        params={"page": str(page), "page_size": str(PAGE_SIZE)},
    )
    return render(
        request,
        "invoices/notes.html",
        title="Noty odsetkowe" if page == 1 else f"Noty odsetkowe — strona {page}",
        part=part,
        page=page,
        page_size=PAGE_SIZE,
    )
