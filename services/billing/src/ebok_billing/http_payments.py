"""Customer routes for paying (``/me/...``): the transfer that pays the balance today,
with its QR code's payload. The client number comes from the token, never the URL."""

from __future__ import annotations

from aiohttp import web
from ebok_shared.clock import clock
from ebok_shared.http.middleware import require
from ebok_shared.service import POOL

from . import views
from .http_common import utility
from .use_cases import payments

routes = web.RouteTableDef()


@routes.get("/me/balance/transfer")
async def balance_transfer(request: web.Request) -> web.Response:
    client_number = require(request, "customer").subject
    today = clock.today()
    async with request.app[POOL].acquire() as conn:
        transfer = await payments.balance_transfer_today(
            conn, client_number, today, utility(request.app)
        )
    return web.json_response(views.balance_transfer(client_number, transfer, today))
