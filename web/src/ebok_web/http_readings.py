"""Pages of the customer portal: readings."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()
