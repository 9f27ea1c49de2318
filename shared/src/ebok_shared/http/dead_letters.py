"""The operators' view of a service's dead-letter queue (``<queue>.dlq``), over HTTP beside the
``dlq`` command: list the parked messages, look at one, re-drive one or all. Every service's
app serves these (``ebok_shared.service``); the gateway publishes them as
``/operator/<service>/dead-letters…``. A parked message may carry customers' data, and
re-driving changes what the service does next: the ``admin`` role only, each re-drive logged."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ..bus.dlq import Parked, list_dead_letters, redrive
from ..logs import get_logger
from .middleware import require
from .params import bad
from .problems import Problem
from .roles import ADMIN, operator_role

log = get_logger(__name__)

MAX_LIST = 500  # messages looked at in one answer (each is fetched and put back)
MESSAGE_ID = r"[A-Za-z0-9._:-]{1,100}"  # what a path names a parked message by
_MESSAGE_ID = re.compile(f"^{MESSAGE_ID}$")

routes = web.RouteTableDef()


def _bus(request: web.Request) -> tuple[Any, Any, str]:
    from ..service import BUS, SPEC  # the service module imports this one

    bus = request.app[BUS]
    return bus.connection, bus.topology, request.app[SPEC].name


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIST:
        raise bad("limit", f"liczba od 1 do {MAX_LIST}")
    return int(raw)


def _message_id(request: web.Request) -> str:
    message_id = request.match_info["message_id"]
    if not _MESSAGE_ID.match(message_id):
        raise bad("message_id", "nieprawidłowy identyfikator komunikatu")
    return message_id


def _view(parked: Parked) -> dict[str, Any]:
    return {**parked.to_dict(), "size": len(parked.body)}


@routes.get("/operator/dead-letters")
@operator_role(ADMIN)
async def list_parked(request: web.Request) -> web.Response:
    """``?limit=100``: the oldest parked messages first, each with its error."""
    require(request, "operator")
    connection, topology, name = _bus(request)
    parked = await list_dead_letters(connection, topology, name, _limit(request))
    return web.json_response(
        {
            "queue": topology.dead_letter_queue(name),
            "items": [_view(p) for p in parked],
            "more": len(parked) == _limit(request),
        }
    )


@routes.get("/operator/dead-letters/{message_id}")
@operator_role(ADMIN)
async def get_parked(request: web.Request) -> web.Response:
    require(request, "operator")
    message_id = _message_id(request)
    connection, topology, name = _bus(request)
    for parked in await list_dead_letters(connection, topology, name, MAX_LIST):
        if parked.message_id == message_id:
            return web.json_response(_view(parked))
    raise Problem(404, "Nie ma takiego komunikatu w kolejce odrzuconych.", code="not-found")


@routes.post("/operator/dead-letters/{message_id}/redrive")
@operator_role(ADMIN)
async def redrive_one(request: web.Request) -> web.Response:
    """Back to the service's queue with a fresh attempt count."""
    operator = require(request, "operator").subject
    message_id = _message_id(request)
    connection, topology, name = _bus(request)
    moved = await redrive(connection, topology, name, message_id=message_id)
    if not moved:
        raise Problem(404, "Nie ma takiego komunikatu w kolejce odrzuconych.", code="not-found")
    log.warning("dead letters re-driven", operator=operator, message_id=message_id, moved=moved)
    return web.json_response({"message_id": message_id, "moved": moved})


@routes.post("/operator/dead-letters/redrive")
@operator_role(ADMIN)
async def redrive_all(request: web.Request) -> web.Response:
    operator = require(request, "operator").subject
    connection, topology, name = _bus(request)
    moved = await redrive(connection, topology, name)
    log.warning("dead letters re-driven", operator=operator, message_id=None, moved=moved)
    return web.json_response({"moved": moved})
