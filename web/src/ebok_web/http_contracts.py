"""Pages of the customer portal: contracts."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()
