"""Service routes (``/internal/...``) for other e-BOK services, with a service token.

Response shapes are contracts: ``api_schemas/*.json`` describes each, and the tests hold
the answers to them.
"""

from __future__ import annotations

from aiohttp import web
from ebok_shared.clock import clock
from ebok_shared.http.jsonbody import json_answer
from ebok_shared.http.middleware import require
from ebok_shared.service import POOL

from . import views
from .clients import use_cases as clients
from .documents import use_cases as documents
from .http_common import client_number, invoice_number, pdf_response, utility
from .ledger import use_cases as ledger

routes = web.RouteTableDef()


@routes.get("/internal/invoices/{number}")
async def invoice(request: web.Request) -> web.Response:
    require(request, "service")
    number = invoice_number(request)
    async with request.app[POOL].acquire() as conn:
        row = await ledger.invoice(conn, number, clock.today())
    return json_answer(views.invoice_summary(row))


@routes.get("/internal/invoices/{number}/pdf")
async def invoice_pdf(request: web.Request) -> web.Response:
    """The invoice the notifier attaches to an e-invoice e-mail: the original, not a copy."""
    require(request, "service")
    number = invoice_number(request)
    async with request.app[POOL].acquire() as conn:
        body = await documents.invoice_original(conn, number, utility(request.app))
    return pdf_response(body, f"faktura-{number}.pdf")


@routes.get("/internal/clients/{number}")
async def client(request: web.Request) -> web.Response:
    require(request, "service")
    number = client_number(request)
    async with request.app[POOL].acquire() as conn:
        found = await clients.client_summary(conn, number)
    return json_answer(views.client_summary(found.client, found.consent, found.active_contracts))
