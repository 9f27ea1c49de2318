"""Service routes (``/internal/...``) for other e-BOK services, with a service token.

Response shapes are contracts: ``api_schemas/*.json`` describes each, and the tests hold
the answers to them.
"""

from __future__ import annotations

from aiohttp import web
from ebok_shared.clock import clock
from ebok_shared.http.middleware import require
from ebok_shared.http.problems import Problem
from ebok_shared.service import POOL

from . import documents, params, views
from . import repository as repo
from .context import utility
from .customer_api import pdf_response

routes = web.RouteTableDef()


@routes.get("/internal/invoices/{number}")
async def invoice(request: web.Request) -> web.Response:
    require(request, "service")
    number = params.invoice_number(request)
    async with request.app[POOL].acquire() as conn:
        row = await repo.invoice(conn, number, clock.today())
    if row is None:
        raise Problem(404, "Nie znaleziono faktury.", code="not-found")
    return web.json_response(views.invoice_summary(row))


@routes.get("/internal/invoices/{number}/pdf")
async def invoice_pdf(request: web.Request) -> web.Response:
    """The invoice copy the notifier attaches to an e-invoice e-mail."""
    require(request, "service")
    number = params.invoice_number(request)
    async with request.app[POOL].acquire() as conn:
        found = await repo.invoice_for_pdf(conn, number)
    if found is None:
        raise Problem(404, "Nie znaleziono faktury.", code="not-found")
    body = await documents.invoice_copy(*found, utility(request.app))
    return pdf_response(body, f"faktura-{number}.pdf")


@routes.get("/internal/clients/{number}")
async def client(request: web.Request) -> web.Response:
    require(request, "service")
    number = params.client_number(request)
    async with request.app[POOL].acquire() as conn:
        row = await repo.client(conn, number)
        if row is None:
            raise Problem(404, "Nie znaleziono klienta.", code="not-found")
        consent = await repo.consent(conn, number)
        active = (await repo.active_contracts(conn, [number]))[number]
    return web.json_response(views.client_summary(row, consent, active))
