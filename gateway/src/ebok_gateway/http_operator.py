"""Operators: the portal settings (terms IV.1), kept by the gateway itself. Every other
operator function is a route of the table (``routes.py``), passed to the service that owns
the data (``/operator/<service>/…``); an operator path the table does not list is 404.
Each handler needs the role the table names for it."""

from __future__ import annotations

import re

from aiohttp import web
from ebok_shared.api import gateway as contract
from ebok_shared.http.middleware import require
from ebok_shared.http.params import bad
from ebok_shared.http.problems import Problem
from ebok_shared.http.roles import operator_role
from ebok_shared.http.validation import read_json
from ebok_shared.service import POOL

from . import repository
from .live import LIVE
from .portal import SECTIONS
from .routes import ITEM_ID, PREFIX, role_for

routes = web.RouteTableDef()

SECTION_SCHEMA = contract.PORTAL_SECTION
ITEM_SCHEMA = contract.PORTAL_ITEM


@routes.get(PREFIX + "/operator/portal-settings")
@operator_role(role_for("GET", "/operator/portal-settings"))
async def get_portal_settings(request: web.Request) -> web.Response:
    require(request, "operator")
    return web.json_response(request.app[LIVE].portal.describe())


@routes.put(PREFIX + "/operator/portal-settings/sections/{section}")
@operator_role(role_for("PUT", "/operator/portal-settings/sections/{section}"))
async def put_section(request: web.Request) -> web.Response:
    principal = require(request, "operator")
    section = request.match_info["section"]
    if section not in SECTIONS:
        raise Problem(404, "Nie ma takiej sekcji e-BOK.", code="unknown-section")
    body = await read_json(request, SECTION_SCHEMA)
    async with request.app[POOL].acquire() as conn:
        await repository.set_section(
            conn, section, body["mode"], body.get("message"), principal.subject
        )
    await request.app[LIVE].reload(request.app[POOL])  # at once here; NOTIFY tells the others
    return web.json_response(
        {"section": section, "mode": body["mode"], "message": body.get("message")}
    )


@routes.put(PREFIX + "/operator/portal-settings/sections/{section}/items/{item_id}")
@operator_role(role_for("PUT", "/operator/portal-settings/sections/{section}/items/{item_id}"))
async def put_item(request: web.Request) -> web.Response:
    principal = require(request, "operator")
    section, item_id = request.match_info["section"], request.match_info["item_id"]
    if section not in SECTIONS:
        raise Problem(404, "Nie ma takiej sekcji e-BOK.", code="unknown-section")
    if not re.fullmatch(ITEM_ID, item_id):  # a path parameter, as the route table's are
        raise bad("item_id", "nieprawidłowa wartość parametru ścieżki")
    body = await read_json(request, ITEM_SCHEMA)
    async with request.app[POOL].acquire() as conn:
        await repository.set_item_hidden(conn, section, item_id, body["hidden"], principal.subject)
    await request.app[LIVE].reload(request.app[POOL])
    return web.json_response({"section": section, "item_id": item_id, "hidden": body["hidden"]})


@routes.get(PREFIX + "/operator/portal-settings/history")
@operator_role(role_for("GET", "/operator/portal-settings/history"))
async def get_portal_history(request: web.Request) -> web.Response:
    require(request, "operator")
    return web.json_response({"items": await repository.settings_history(request.app[POOL], 100)})


@routes.get(PREFIX + "/operator/portal-settings/hidden-items")
@operator_role(role_for("GET", "/operator/portal-settings/hidden-items"))
async def get_hidden_items(request: web.Request) -> web.Response:
    """The single items (invoices, contracts) hidden from customers, by section."""
    require(request, "operator")
    return web.json_response({"items": request.app[LIVE].portal.describe()["hidden_items"]})
