"""Customer routes (``/me/...``): the client number comes from the token, never the URL.

Another client's invoice or contract answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web
from ebok_shared.clock import clock
from ebok_shared.http.middleware import public, require
from ebok_shared.http.problems import Problem
from ebok_shared.http.validation import read_json
from ebok_shared.service import BUS, POOL

from . import documents, operations, params, views
from . import repository as repo
from .context import settings, utility
from .domain import (
    InvoiceFacts,
    InvoiceStatus,
    NoteFacts,
    PaymentFacts,
    compute_balance,
    interest_kind,
    valid_email,
)
from .rate_tables import load_eur_rates

routes = web.RouteTableDef()

STATUSES = tuple(s.value for s in InvoiceStatus)
E_INVOICE_SCHEMA = {
    "type": "object",
    "required": ["email"],
    "additionalProperties": False,
    "properties": {
        "email": {"type": "string", "format": "email", "minLength": 3, "maxLength": 254}
    },
}
CONFIRM_SCHEMA = {
    "type": "object",
    "required": ["token"],
    "additionalProperties": False,
    "properties": {"token": {"type": "string", "pattern": "^[A-Za-z0-9_-]{32,64}$"}},
}


def _client_number(request: web.Request) -> str:
    return require(request, "customer").subject


def _not_found(what: str = "faktury") -> Problem:
    return Problem(404, f"Nie znaleziono {what}.", code="not-found")


@routes.get("/me/invoices")
async def list_invoices(request: web.Request) -> web.Response:
    client_number = _client_number(request)
    date_from = params.query_date(request, "from")
    date_to = params.query_date(request, "to")
    if date_from and date_to and date_to < date_from:
        raise params.bad("to", "data końcowa wcześniejsza niż początkowa", 422)
    status = params.query_choice(request, "status", STATUSES)
    page = params.page(request, settings(request.app).page_size_max)
    async with request.app[POOL].acquire() as conn:
        total, rows = await repo.invoice_page(
            conn,
            client_number,
            clock.today(),
            date_from=date_from,
            date_to=date_to,
            status=status,
            limit=page.size,
            offset=page.offset,
        )
    return web.json_response(page.envelope([views.invoice_item(r) for r in rows], total))


async def _own_invoice(request: web.Request, conn: repo.Conn) -> repo.Record:
    number = params.invoice_number(request)
    row = await repo.invoice(conn, number, clock.today())
    if row is None or row["client_number"] != _client_number(request):
        raise _not_found()
    return row


@routes.get("/me/invoices/{number}")
async def invoice_detail(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        row = await _own_invoice(request, conn)
        number = row["invoice_number"]
        payments = await repo.payments_of_invoice(conn, number)
        corrections = await repo.corrections_of(conn, number)
        notes = await repo.notes_of_invoice(conn, number)
    body = views.invoice_detail(
        row,
        payments,
        corrections,
        notes,
        settings(request.app).bank_prefix,
        f"/me/invoices/{number}/pdf",
        clock.today(),
    )
    return web.json_response(body)


def pdf_response(body: bytes, filename: str) -> web.Response:
    return web.Response(
        body=body,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "private, max-age=3600",
        },
    )


@routes.get("/me/invoices/{number}/pdf")
async def invoice_pdf(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        row = await _own_invoice(request, conn)
        found = await repo.invoice_for_pdf(conn, row["invoice_number"])
    assert found is not None
    body = await documents.invoice_copy(*found, utility(request.app))
    return pdf_response(body, f"odpis-faktury-{row['invoice_number']}.pdf")


@routes.get("/me/balance")
async def balance(request: web.Request) -> web.Response:
    client_number = _client_number(request)
    today = clock.today()
    async with request.app[POOL].acquire() as conn:
        client = await repo.client(conn, client_number)
        if client is None:
            raise _not_found("klienta")
        invoices, principal, notes, paid = await repo.balance_rows(conn, client_number)
        table = await operations.load_rate_table(conn)
        eur_rates = await load_eur_rates(conn)
    kind = interest_kind(client["kind"])
    result = compute_balance(
        [
            InvoiceFacts(r["invoice_number"], r["gross"], r["due_date"], r["corrects"])
            for r in invoices
        ],
        [PaymentFacts(r["invoice_number"], r["paid_on"], r["amount"]) for r in principal],
        [
            NoteFacts(
                n["note_number"],
                n["invoice_number"],
                n["issue_date"],
                n["payable_by"],
                n["total"],
                n["amount_paid"],
                n["compensation_for"],
                n["compensation_pln"] or Decimal("0.00"),
                n["interest_to"] if n["reason"] == "on-demand" else None,
            )
            for n in notes
        ],
        paid,
        today=today,
        kind=kind,
        table=table,
        eur_rates=eur_rates,
    )
    return web.json_response(views.balance(client_number, result, today, kind))


@routes.get("/me/interest-notes")
async def interest_notes(request: web.Request) -> web.Response:
    client_number = _client_number(request)
    page = params.page(request, settings(request.app).page_size_max)
    async with request.app[POOL].acquire() as conn:
        total, rows = await repo.note_page(conn, client_number, page.size, page.offset)
    today = clock.today()
    return web.json_response(page.envelope([views.note(r, today) for r in rows], total))


@routes.get("/me/contracts")
async def contracts(request: web.Request) -> web.Response:
    client_number = _client_number(request)
    async with request.app[POOL].acquire() as conn:
        rows = await repo.contracts_of(conn, client_number)
    items = [views.contract(r, f"/me/contracts/{r['contract_number']}/document") for r in rows]
    return web.json_response({"items": items, "total": len(items)})


async def _own_contract(request: web.Request, conn: repo.Conn) -> repo.Record:
    number = params.contract_number(request)
    row = await repo.contract_of(conn, number)
    if row is None or row["client_number"] != _client_number(request):
        raise _not_found("umowy")
    return row


@routes.get("/me/contracts/{number:[^{}]+}/document")
async def contract_document(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        row = await _own_contract(request, conn)
        client = await repo.client(conn, row["client_number"])
    body = await documents.contract_document(row, client, utility(request.app))
    return pdf_response(body, f"umowa-{row['contract_number'].replace('/', '-')}.pdf")


@routes.get("/me/contracts/{number:[^{}]+}")
async def contract(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        row = await _own_contract(request, conn)
    return web.json_response(
        views.contract(row, f"/me/contracts/{row['contract_number']}/document")
    )


# -- e-invoices (terms III.c) -----------------------------------------------------------


async def _e_invoice_state(conn: repo.Conn, client_number: str) -> dict[str, object]:
    client = await repo.client(conn, client_number)
    if client is None:
        raise _not_found("klienta")
    consent = await repo.consent(conn, client_number)
    pending = await repo.pending_request(conn, client_number, clock.now())
    history = await repo.history(conn, client_number, 50)
    return views.e_invoice(client, consent, pending, history, operations.BUSINESS_E_INVOICE)


@routes.get("/me/e-invoice")
async def get_e_invoice(request: web.Request) -> web.Response:
    client_number = _client_number(request)
    async with request.app[POOL].acquire() as conn:
        return web.json_response(await _e_invoice_state(conn, client_number))


@routes.put("/me/e-invoice")
async def put_e_invoice(request: web.Request) -> web.Response:
    client_number = _client_number(request)
    body = await read_json(request, E_INVOICE_SCHEMA)
    email = body["email"].strip()
    if not valid_email(email):
        raise params.bad("email", "nieprawidłowy adres e-mail", 422)
    async with request.app[POOL].acquire() as conn:
        try:
            await operations.request_e_invoice(
                conn, request.app[BUS].outbox, client_number, email, "customer", clock.now()
            )
        except operations.OperationError as exc:
            raise params.from_operation(exc) from None
        state = await _e_invoice_state(conn, client_number)
    state["message"] = (
        f"Wysłaliśmy wiadomość z linkiem potwierdzającym na adres {email}. "
        "E-faktury zaczniemy wysyłać po potwierdzeniu adresu."
    )
    return web.json_response(state, status=202)


@routes.delete("/me/e-invoice")
async def delete_e_invoice(request: web.Request) -> web.Response:
    client_number = _client_number(request)
    async with request.app[POOL].acquire() as conn:
        try:
            await operations.withdraw_e_invoice(
                conn, request.app[BUS].outbox, client_number, "customer", clock.now()
            )
        except operations.OperationError as exc:
            raise params.from_operation(exc) from None
        state = await _e_invoice_state(conn, client_number)
    state["message"] = "Zgoda na e-fakturę została wycofana; faktury otrzymasz w formie papierowej."
    return web.json_response(state)


@routes.post("/e-invoice/confirmations")
@public
async def confirm_e_invoice(request: web.Request) -> web.Response:
    """The link e-mailed to the address: whoever holds the token proves the mailbox."""
    body = await read_json(request, CONFIRM_SCHEMA)
    async with request.app[POOL].acquire() as conn:
        try:
            result = await operations.confirm_e_invoice(
                conn, request.app[BUS].outbox, body["token"], clock.now()
            )
        except operations.OperationError as exc:
            raise params.from_operation(exc) from None
    return web.json_response(
        {
            "status": "accepted",
            "email": result["email"],
            "message": f"Adres {result['email']} został potwierdzony. Kolejne faktury otrzymasz "
            "jako e-faktury na ten adres.",
        }
    )


# -- GDPR export (terms I.7: the right to see one's data) ----------------------------------

_EXPORT_LIMIT = 100_000  # far beyond any client's history; the export is never paged


@routes.get("/me/export")
async def export(request: web.Request) -> web.Response:
    """Billing's part of the customer's data export: everything billing holds about them."""
    client_number = _client_number(request)
    async with request.app[POOL].acquire() as conn:
        client = await repo.client(conn, client_number)
        if client is None:
            raise _not_found("klienta")
        consent = await repo.consent(conn, client_number)
        contracts = await repo.contracts_of(conn, client_number)
        _, invoices = await repo.invoice_page(
            conn,
            client_number,
            clock.today(),
            date_from=None,
            date_to=None,
            status=None,
            limit=_EXPORT_LIMIT,
            offset=0,
        )
        _, notes = await repo.note_page(conn, client_number, _EXPORT_LIMIT, 0)
        history = await repo.history(conn, client_number, _EXPORT_LIMIT)
    active = sum(1 for c in contracts if c["terminated_on"] is None)
    return web.json_response(
        {
            "client": views.client_summary(client, consent, active),
            "contracts": [
                views.contract(c, f"/me/contracts/{c['contract_number']}/document")
                for c in contracts
            ],
            "invoices": [views.invoice_item(r) for r in invoices],
            "interest_notes": [views.note(n) for n in notes],
            "e_invoice_history": views.e_invoice(
                client, consent, None, history, operations.BUSINESS_E_INVOICE
            )["history"],
        }
    )
