"""Pages of the customer portal: the dashboard."""

from __future__ import annotations

from aiohttp import web

from .access import api, customer_page
from .rendering import render

routes = web.RouteTableDef()


@routes.get("/pulpit")
@customer_page()
async def dashboard(request: web.Request) -> web.StreamResponse:
    me = await api(request).get("/me")
    return render(request, "customer/dashboard.html", title="Pulpit", me=me.json() if me.ok else {})
