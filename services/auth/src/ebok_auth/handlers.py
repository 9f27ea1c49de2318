"""auth HTTP handlers: parse the request, call the domain and the repository, answer."""

from aiohttp import web

routes = web.RouteTableDef()
