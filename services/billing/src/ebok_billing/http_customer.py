"""Customer routes (``/me/...``): the client number comes from the token, never the URL.

Another client's invoice or contract answers 404, exactly like one that does not exist.
The e-mailed link that confirms an e-invoice address (``/e-invoice/confirmations``) needs
no login: whoever holds the token proves the mailbox.
"""

from __future__ import annotations

from aiohttp import web
from ebok_shared.addresses import valid_email
from ebok_shared.api.billing import CONFIRM_SCHEMA, E_INVOICE_SCHEMA
from ebok_shared.clock import clock
from ebok_shared.http import params
from ebok_shared.http.jsonbody import json_answer
from ebok_shared.http.middleware import allow_restricted, public, require
from ebok_shared.http.validation import read_json
from ebok_shared.service import BUS, POOL

from . import views
from .clients import use_cases as clients
from .documents import use_cases as documents
from .e_invoice import use_cases as e_invoice
from .e_invoice.domain import BUSINESS_E_INVOICE
from .http_common import contract_number, invoice_number, pdf_response, settings, utility
from .interest import use_cases as interest
from .ledger import use_cases as ledger
from .ledger.domain import InvoiceStatus

routes = web.RouteTableDef()

STATUSES = tuple(s.value for s in InvoiceStatus)


def _client_number(request: web.Request) -> str:
    return require(request, "customer").subject


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
        total, rows = await ledger.invoice_page(
            conn,
            client_number,
            clock.today(),
            date_from=date_from,
            date_to=date_to,
            status=status,
            hidden=params.hidden_items(request),
            limit=page.size,
            offset=page.offset,
        )
    return json_answer(page.envelope([views.invoice_list_item(r) for r in rows], total))


@routes.get("/me/invoices/{number}")
async def invoice_detail(request: web.Request) -> web.Response:
    number = invoice_number(request)
    async with request.app[POOL].acquire() as conn:
        detail = await ledger.invoice_detail(conn, _client_number(request), number, clock.today())
    body = views.invoice_detail(
        detail.invoice,
        detail.payments,
        detail.corrections,
        detail.notes,
        settings(request.app).bank_prefix,
        f"/me/invoices/{number}/pdf",
        clock.today(),
    )
    return json_answer(body)


@routes.get("/me/invoices/{number}/pdf")
async def invoice_pdf(request: web.Request) -> web.Response:
    number = invoice_number(request)
    async with request.app[POOL].acquire() as conn:
        body = await documents.own_invoice_copy(
            conn, _client_number(request), number, clock.today(), utility(request.app)
        )
    return pdf_response(body, f"odpis-faktury-{number}.pdf")


@routes.get("/me/balance")
async def balance(request: web.Request) -> web.Response:
    client_number = _client_number(request)
    today = clock.today()
    async with request.app[POOL].acquire() as conn:
        result, kind = await ledger.balance(conn, client_number, today)
    return json_answer(views.balance(client_number, result, today, kind))


@routes.get("/me/interest-notes")
async def interest_notes(request: web.Request) -> web.Response:
    client_number = _client_number(request)
    page = params.page(request, settings(request.app).page_size_max)
    async with request.app[POOL].acquire() as conn:
        total, rows = await interest.note_page(conn, client_number, page.size, page.offset)
    today = clock.today()
    return json_answer(page.envelope([views.note(r, today) for r in rows], total))


@routes.get("/me/contracts")
async def contracts(request: web.Request) -> web.Response:
    client_number = _client_number(request)
    async with request.app[POOL].acquire() as conn:
        rows = await clients.contracts(conn, client_number)
    items = [views.contract(r, views.contract_document_path(r["contract_number"])) for r in rows]
    return json_answer({"items": items, "total": len(items)})


@routes.get("/me/contracts/{number:[^{}]+}/document")
async def contract_document(request: web.Request) -> web.Response:
    number = contract_number(request)
    async with request.app[POOL].acquire() as conn:
        number, body = await documents.own_contract_document(
            conn, _client_number(request), number, utility(request.app)
        )
    return pdf_response(body, f"umowa-{number.replace('/', '-')}.pdf")


@routes.get("/me/contracts/{number:[^{}]+}")
async def contract(request: web.Request) -> web.Response:
    number = contract_number(request)
    async with request.app[POOL].acquire() as conn:
        row = await clients.own_contract(conn, _client_number(request), number)
    return json_answer(views.contract(row, views.contract_document_path(row["contract_number"])))


# -- e-invoices (terms III.c) -----------------------------------------------------------


async def _e_invoice_state(request: web.Request, client_number: str) -> dict[str, object]:
    async with request.app[POOL].acquire() as conn:
        s = await e_invoice.state(conn, client_number, clock.now())
    return views.e_invoice(s.client, s.consent, s.pending, s.history, BUSINESS_E_INVOICE)


@routes.get("/me/e-invoice")
async def get_e_invoice(request: web.Request) -> web.Response:
    return json_answer(await _e_invoice_state(request, _client_number(request)))


@routes.put("/me/e-invoice")
async def put_e_invoice(request: web.Request) -> web.Response:
    client_number = _client_number(request)
    body = await read_json(request, E_INVOICE_SCHEMA)
    email = body["email"].strip()
    if not valid_email(email):
        raise params.bad("email", "nieprawidłowy adres e-mail", 422)
    async with request.app[POOL].acquire() as conn:
        await e_invoice.request_e_invoice(
            conn, request.app[BUS].outbox, client_number, email, "customer", clock.now()
        )
    state = await _e_invoice_state(request, client_number)
    state["message"] = (
        f"Wysłaliśmy wiadomość z linkiem potwierdzającym na adres {email}. "
        "E-faktury zaczniemy wysyłać po potwierdzeniu adresu."
    )
    return json_answer(state, status=202)


@routes.delete("/me/e-invoice")
async def delete_e_invoice(request: web.Request) -> web.Response:
    client_number = _client_number(request)
    async with request.app[POOL].acquire() as conn:
        await e_invoice.withdraw_e_invoice(
            conn, request.app[BUS].outbox, client_number, "customer", clock.now()
        )
    state = await _e_invoice_state(request, client_number)
    state["message"] = "Zgoda na e-fakturę została wycofana; faktury otrzymasz w formie papierowej."
    return json_answer(state)


@routes.post("/e-invoice/confirmations")
@public
async def confirm_e_invoice(request: web.Request) -> web.Response:
    """The link e-mailed to the address: whoever holds the token proves the mailbox."""
    body = await read_json(request, CONFIRM_SCHEMA)
    async with request.app[POOL].acquire() as conn:
        result = await e_invoice.confirm_e_invoice(
            conn, request.app[BUS].outbox, body["token"], clock.now()
        )
    return json_answer(
        {
            "status": "accepted",
            "email": result["email"],
            "message": f"Adres {result['email']} został potwierdzony. Kolejne faktury otrzymasz "
            "jako e-faktury na ten adres.",
        }
    )


# -- GDPR export (terms I.7: the right to see one's data) ----------------------------------


@routes.get("/me/export")
@allow_restricted("regulations")  # a GDPR right, whatever terms are accepted
async def export(request: web.Request) -> web.Response:
    """Billing's part of the customer's data export: everything billing holds about them."""
    client_number = _client_number(request)
    async with request.app[POOL].acquire() as conn:
        data = await clients.export(conn, client_number, clock.today())
    return json_answer(
        {
            "client": views.client_summary(data.client, data.consent, data.active_contracts),
            "contracts": [
                views.contract(c, views.contract_document_path(c["contract_number"]))
                for c in data.contracts
            ],
            "invoices": [
                {**views.invoice_item(r), "lines": views.invoice_lines(r)} for r in data.invoices
            ],
            "payments": [views.payment(p) for p in data.payments],
            # each note with its working: periods, rates, days, amounts, the compensation's
            "interest_notes": [views.note(n, clock.today()) for n in data.notes],
            "e_invoice_history": views.e_invoice(
                data.client, data.consent, None, data.history, BUSINESS_E_INVOICE
            )["history"],
        }
    )
