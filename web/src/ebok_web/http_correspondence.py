"""Pages of the customer portal: correspondence."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()
