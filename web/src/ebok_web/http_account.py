"""Pages of the customer portal: account."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()
