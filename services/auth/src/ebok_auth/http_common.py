"""What every auth HTTP module needs: the caller's IP, the caller's live session, the
actions' dependencies and JSON answers (auth's refusals, Retry-After included, become
problems in the shared renderer like every service's)."""

from __future__ import annotations

import json as _json
from typing import Any

from aiohttp import web
from ebok_shared.http.forwarded import is_trusted
from ebok_shared.http.middleware import require
from ebok_shared.http.problems import Problem
from ebok_shared.http.tokens import Principal
from ebok_shared.service import POOL

from .resources import HASHER, KEYRING
from .settings import AuthSettings
from .use_cases import Deps, sessions


def deps(request: web.Request) -> Deps:
    app = request.app
    return Deps(app[POOL], AuthSettings.of(app), app[HASHER], app[KEYRING])


def client_ip(request: web.Request) -> str:
    """The peer, or — behind a trusted proxy (the gateway) — the nearest untrusted address in
    X-Forwarded-For. Untrusted peers cannot spoof their address this way."""
    trusted = AuthSettings.of(request.app).trusted_proxies
    peer = request.remote or "unknown"
    if not is_trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop, trusted):
            return hop[:64]
    return peer


async def live_principal(request: web.Request, *kinds: str, role: str | None = None) -> Principal:
    """``require`` plus: the token's session is still live in auth's database, so a logout,
    block, deletion or password change ends access to auth at once (not at token expiry)."""
    principal = require(request, *kinds, role=role)
    if not await sessions.is_alive(
        request.app[POOL],
        principal.session_id,
        principal.kind,
        principal.subject,
        AuthSettings.of(request.app),
    ):
        raise session_gone()
    return principal


def session_gone() -> Problem:
    """401: the token's session is no longer live (``live_principal``)."""
    return Problem(
        401,
        "Sesja wygasła lub została zakończona. Zaloguj się ponownie.",
        code="session-ended",
        headers={"WWW-Authenticate": "Bearer"},
    )


def json(data: Any, status: int = 200, **headers: str) -> web.Response:
    response = web.json_response(data, status=status, dumps=_dumps)
    response.headers.update(headers)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _dumps(data: Any) -> str:
    return _json.dumps(data, ensure_ascii=False, default=str)
