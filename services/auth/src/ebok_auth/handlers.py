"""auth HTTP routes, gathered from the modules that own them."""

from __future__ import annotations

from aiohttp import web

from . import http_me, http_operator, http_public

routes: list[web.AbstractRouteDef] = [*http_public.routes, *http_me.routes, *http_operator.routes]
