"""Gateway-only middlewares, after the shared token check: revoked tokens and the general
per-IP and per-account rate limits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from ebok_shared.http.middleware import PRINCIPAL
from ebok_shared.http.problems import Problem

from .live import LIVE
from .proxy import LIMITER, client_ip
from .ratelimit import RULES


@web.middleware
async def revocation_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    principal = request.get(PRINCIPAL)
    if principal is not None:
        issued_at = dt.datetime.fromtimestamp(principal.claims["iat"], dt.UTC)
        subject_key = f"{principal.kind}:{principal.subject}"
        if request.app[LIVE].revocations.is_revoked(subject_key, principal.session_id, issued_at):
            raise Problem(
                401,
                "Sesja została zakończona. Zaloguj się ponownie.",
                code="session-revoked",
                headers={"WWW-Authenticate": "Bearer"},
            )
    return await handler(request)  # type: ignore[no-any-return]


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    if not request.path.startswith("/health") and request.path != "/metrics":
        counted = [(RULES["ip"], client_ip(request))]
        principal = request.get(PRINCIPAL)
        if principal is not None:
            counted.append((RULES["account"], f"{principal.kind}:{principal.subject}"))
        await request.app[LIMITER].hit(*counted)
    return await handler(request)  # type: ignore[no-any-return]
