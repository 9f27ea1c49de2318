"""The public API's routes: one proxy per route of the route table (each checks its own
audience: public, customer or operator; see routes.py), the portal's section states and the
OpenAPI document."""

from __future__ import annotations

from aiohttp import web
from ebok_shared.http.middleware import public

from . import openapi
from .live import LIVE
from .proxy import proxy
from .routes import PREFIX, ROUTES

routes = web.RouteTableDef()

for _route in ROUTES:
    if _route.service == "gateway":
        continue  # served by the gateway's own handlers (http_operator)
    routes.route(_route.method, PREFIX + _route.path)(proxy(_route))


@routes.get(PREFIX + "/openapi.json")
@public
async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi.document())


@routes.get(PREFIX + "/portal/sections")
@public
async def get_portal_sections(request: web.Request) -> web.Response:
    """Each section's state as operators set it (on, read_only, off, hidden) and the message
    customers are shown, so a front end can show a read-only section's data without its
    forms. Hidden single items are not listed: they name customers' invoices."""
    sections = request.app[LIVE].portal.describe()["sections"]
    return web.json_response({"sections": sections}, headers={"Cache-Control": "no-cache"})
