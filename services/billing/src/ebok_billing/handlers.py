"""billing HTTP handlers: every route of the service, gathered from its three audiences.

``/me/...`` customers (client number from the token), ``/operator/...`` the back office's
operators, ``/internal/...`` other services; see customer_api, operator_api, internal_api.
"""

from aiohttp import web

from . import customer_api, internal_api, operator_api

routes: list[web.AbstractRouteDef] = [
    *customer_api.routes,
    *operator_api.routes,
    *internal_api.routes,
]
