"""What every auth handler needs: the caller's IP, the caller's live session, JSON answers."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from ebok_shared.http.middleware import require
from ebok_shared.http.problems import Problem
from ebok_shared.http.tokens import Principal
from ebok_shared.service import POOL

from . import passwords, sessions
from .resources import AUTH_SETTINGS


def client_ip(request: web.Request) -> str:
    """The peer, or — behind a trusted proxy (the gateway) — the nearest untrusted address in
    X-Forwarded-For. Untrusted peers cannot spoof their address this way."""
    trusted = request.app[AUTH_SETTINGS].trusted_proxies
    peer = request.remote or "unknown"
    if peer not in trusted:
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop[:64]
    return peer


async def live_principal(request: web.Request, *kinds: str, role: str | None = None) -> Principal:
    """``require`` plus: the token's session is still live in auth's database, so a logout,
    block, deletion or password change ends access to auth at once (not at token expiry)."""
    principal = require(request, *kinds, role=role)
    if not await sessions.alive(
        request.app[POOL],
        principal.session_id,
        principal.kind,
        principal.subject,
        request.app[AUTH_SETTINGS],
    ):
        raise Problem(
            401,
            "Sesja wygasła lub została zakończona. Zaloguj się ponownie.",
            code="session-ended",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def check_password_policy(password: str, login: str, field: str = "new_password") -> None:
    broken = passwords.policy_violations(password, login)
    if broken:
        raise Problem(
            422,
            "Hasło nie spełnia wymagań: " + "; ".join(broken) + ".",
            code="password-policy",
            errors=[{"field": field, "reason": reason} for reason in broken],
        )


def json(data: Any, status: int = 200, **headers: str) -> web.Response:
    response = web.json_response(data, status=status, dumps=_dumps)
    response.headers.update(headers)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _dumps(data: Any) -> str:
    import json as _json

    return _json.dumps(data, ensure_ascii=False, default=str)


def link_gone(what: str) -> Problem:
    return Problem(
        410, f"Link {what} jest nieprawidłowy, wygasł albo został już użyty.", code="link-invalid"
    )
