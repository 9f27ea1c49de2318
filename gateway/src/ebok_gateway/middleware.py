"""Gateway-only middleware, after the shared token and revocation checks: the general per-IP
and per-account rate limits."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler
from ebok_shared.http.middleware import PRINCIPAL

from .proxy import LIMITER, client_ip
from .ratelimit import RULES


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/health") and request.path != "/metrics":
        counted = [(RULES["ip"], client_ip(request))]
        principal = request.get(PRINCIPAL)
        if principal is not None:
            counted.append((RULES["account"], f"{principal.kind}:{principal.subject}"))
        await request.app[LIMITER].hit(*counted)
    return await handler(request)
