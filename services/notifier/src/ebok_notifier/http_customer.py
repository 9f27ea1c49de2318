"""Customer HTTP handlers: the notifier's part of the customer's data export."""

from __future__ import annotations

from aiohttp import web
from ebok_shared.http.middleware import allow_restricted, require
from ebok_shared.service import POOL

from . import use_cases
from .http_common import json_answer

routes = web.RouteTableDef()


@routes.get("/me/export")
@allow_restricted("regulations")  # a GDPR right, whatever terms are accepted
async def my_export(request: web.Request) -> web.Response:
    """This service's part of the customer's data export (the gateway's ``/me/export``)."""
    client_number = require(request, "customer").subject
    return json_answer(await use_cases.export(request.app[POOL], client_number))
