"""The public API's routes: one proxy per route of the route table (each checks its own
audience: public, customer or operator; see routes.py), and the OpenAPI document."""

from __future__ import annotations

from aiohttp import web
from ebok_shared.http.middleware import public

from . import openapi
from .proxy import proxy
from .routes import PREFIX, ROUTES

routes = web.RouteTableDef()

for _route in ROUTES:
    routes.route(_route.method, PREFIX + _route.path)(proxy(_route))


@routes.get(PREFIX + "/openapi.json")
@public
async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi.document())
