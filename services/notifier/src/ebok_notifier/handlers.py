"""notifier HTTP handlers: parse the request, call the domain and the repository, answer.

Operators: the delivery log (failures first of all), re-sending one failed e-mail, and the
progress of campaigns. Customers: the notifier's part of their data export."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from functools import partial
from typing import Any

from aiohttp import web
from ebok_shared.clock import clock
from ebok_shared.http.middleware import require
from ebok_shared.http.problems import Problem, field_problem
from ebok_shared.service import POOL

from . import repository as repo
from .domain import Status

routes = web.RouteTableDef()

MAX_LIMIT = 500


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(
        data, status=status, dumps=partial(json.dumps, default=_plain, ensure_ascii=False)
    )


def _int_param(
    request: web.Request, name: str, default: int | None, low: int, high: int
) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise field_problem(name, "oczekiwano liczby całkowitej") from None
    if not low <= value <= high:
        raise field_problem(name, f"dozwolony zakres: {low}–{high}")
    return value


@routes.get("/operator/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    """``?status=failed&limit=50&before_id=…``: newest first; page on with ``before_id``."""
    require(request, "operator")
    status = request.query.get("status") or None
    if status is not None and status not in {s.value for s in Status}:
        raise field_problem("status", "dozwolone wartości: " + ", ".join(s.value for s in Status))
    limit = _int_param(request, "limit", 50, 1, MAX_LIMIT)
    before_id = _int_param(request, "before_id", None, 1, 2**63 - 1)
    assert limit is not None
    items = await repo.list_deliveries(
        request.app[POOL], status=status, before_id=before_id, limit=limit
    )
    body: dict[str, Any] = {"items": items}
    if len(items) == limit:
        body["next_before_id"] = items[-1]["id"]
    return _json(body)


@routes.get(r"/operator/deliveries/{id:\d+}")
async def get_delivery(request: web.Request) -> web.Response:
    require(request, "operator")
    delivery = await repo.get_delivery(request.app[POOL], int(request.match_info["id"]))
    if delivery is None:
        raise Problem(404, "Nie ma takiej wysyłki.", code="delivery-not-found")
    return _json(delivery)


@routes.post(r"/operator/deliveries/{id:\d+}/resend")
async def resend(request: web.Request) -> web.Response:
    """Send a failed e-mail again (same Message-ID), with a fresh retry deadline."""
    require(request, "operator")
    pool, delivery_id = request.app[POOL], int(request.match_info["id"])
    if not await repo.requeue_failed(pool, delivery_id, clock.now()):
        delivery = await repo.get_delivery(pool, delivery_id)
        if delivery is None:
            raise Problem(404, "Nie ma takiej wysyłki.", code="delivery-not-found")
        raise Problem(
            409,
            f"Ponownie wysłać można tylko wiadomość, której wysyłka się nie powiodła"
            f" (ta ma status: {delivery['status']}).",
            code="delivery-not-failed",
        )
    return _json(await repo.get_delivery(pool, delivery_id), status=202)


@routes.get("/operator/campaigns")
async def list_campaigns(request: web.Request) -> web.Response:
    require(request, "operator")
    limit = _int_param(request, "limit", 50, 1, MAX_LIMIT)
    assert limit is not None
    return _json({"items": await repo.list_campaigns(request.app[POOL], limit)})


@routes.get(r"/operator/campaigns/{id:\d+}")
async def campaign(request: web.Request) -> web.Response:
    """Progress: how many of the campaign's e-mails were sent, failed, or still wait."""
    require(request, "operator")
    found = await repo.campaign_progress(request.app[POOL], int(request.match_info["id"]))
    if found is None:
        raise Problem(404, "Nie ma takiej kampanii.", code="campaign-not-found")
    campaign, counts = found["campaign"], found["counts"]
    waiting = counts.get(Status.PENDING, 0) + counts.get(Status.SENDING, 0)
    materialised = campaign["status"] == "queued"
    return _json(
        {
            **campaign,
            "sent": counts.get(Status.SENT, 0),
            "failed": counts.get(Status.FAILED, 0),
            "cancelled": counts.get(Status.CANCELLED, 0),
            "waiting": waiting,
            "done": materialised and waiting == 0,
        }
    )


@routes.get("/me/export")
async def my_export(request: web.Request) -> web.Response:
    """This service's part of the customer's data export (the gateway's ``/me/export``)."""
    client_number = require(request, "customer").subject
    data = await repo.export(request.app[POOL], client_number)
    return _json(
        {
            "service": "notifier",
            "generated_at": clock.now().isoformat(),
            "client_number": client_number,
            **data,
        }
    )
