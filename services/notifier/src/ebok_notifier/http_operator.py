"""Operator HTTP handlers: the delivery log (failures first of all), re-sending one failed
e-mail, and the progress of campaigns. Parse the request, call one use case, answer."""

from __future__ import annotations

from aiohttp import web
from ebok_shared.http.middleware import require
from ebok_shared.http.params import query_int
from ebok_shared.http.problems import field_problem
from ebok_shared.http.roles import CONTENT, CUSTOMER_SERVICE, operator_role
from ebok_shared.service import POOL

from . import use_cases
from .domain import Status
from .http_common import json_answer

routes = web.RouteTableDef()

MAX_LIMIT = 500


@routes.get("/operator/deliveries")
@operator_role(CUSTOMER_SERVICE)
async def list_deliveries(request: web.Request) -> web.Response:
    """``?status=failed&limit=50&before_id=…``: newest first; page on with ``before_id``."""
    require(request, "operator")
    status = request.query.get("status") or None
    if status is not None and status not in {s.value for s in Status}:
        raise field_problem("status", "dozwolone wartości: " + ", ".join(s.value for s in Status))
    limit = query_int(request, "limit", 50, 1, MAX_LIMIT)
    before_id = query_int(request, "before_id", None, 1, 2**63 - 1)
    answer = await use_cases.deliveries(
        request.app[POOL], None if status is None else Status(status), before_id, limit
    )
    return json_answer(answer)


@routes.get(r"/operator/deliveries/{id:\d+}")
@operator_role(CUSTOMER_SERVICE)
async def get_delivery(request: web.Request) -> web.Response:
    require(request, "operator")
    return json_answer(await use_cases.delivery(request.app[POOL], int(request.match_info["id"])))


@routes.post(r"/operator/deliveries/{id:\d+}/resend")
@operator_role(CUSTOMER_SERVICE)
async def resend(request: web.Request) -> web.Response:
    """Send a failed e-mail again (same Message-ID), with a fresh retry deadline."""
    require(request, "operator")
    answer = await use_cases.resend(request.app[POOL], int(request.match_info["id"]))
    return json_answer(answer, status=202)


@routes.get("/operator/campaigns")
@operator_role(CONTENT)
async def list_campaigns(request: web.Request) -> web.Response:
    require(request, "operator")
    limit = query_int(request, "limit", 50, 1, MAX_LIMIT)
    return json_answer(await use_cases.campaigns(request.app[POOL], limit))


@routes.get(r"/operator/campaigns/{id:\d+}")
@operator_role(CONTENT)
async def campaign(request: web.Request) -> web.Response:
    """Progress: how many of the campaign's e-mails were sent, failed, or still wait."""
    require(request, "operator")
    return json_answer(await use_cases.campaign(request.app[POOL], int(request.match_info["id"])))
