"""Middlewares every service runs, outermost first: correlation id, metrics, problems,
authentication, idempotency."""

from __future__ import annotations

import functools
import re
import time
from random import getrandbits
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from ..logs import correlation_id_var, get_logger
from ..metrics import HTTP_LATENCY, HTTP_REQUESTS
from . import idempotency
from .problems import Problem, render
from .roles import check_role, role_of
from .tokens import PRINCIPAL as PRINCIPAL  # imported from here by every component
from .tokens import InvalidToken, Principal, TokenVerifier

log = get_logger(__name__)

CORRELATION_HEADER = "X-Correlation-Id"
_CID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def public(handler: Any) -> Any:
    """Mark a handler as reachable without a token."""
    handler.ebok_public = True
    return handler


def secret_answer(handler: Any) -> Any:
    """Mark a handler whose answer carries a secret (tokens, a generated password): its answer
    is never stored for Idempotency-Key replays, so no secret rests in idempotency_keys."""
    handler.ebok_secret_answer = True
    return handler


def allow_restricted(*restrictions: str) -> Any:
    """Let a token restricted by ``restrictions`` (e.g. "password_change" after the first
    login, "regulations" until new terms are accepted) reach this handler. Every other
    handler refuses restricted tokens."""

    def mark(handler: Any) -> Any:
        handler.ebok_allowed_restrictions = frozenset(restrictions)
        return handler

    return mark


RESTRICTION_PROBLEMS = {
    "password_change": (
        "password-change-required",
        "Przy pierwszym logowaniu musisz zmienić wygenerowane hasło na własne.",
    ),
    "regulations": (
        "regulations-acceptance-required",
        "Zaakceptuj nową wersję Regulaminu e-BOK, aby korzystać z serwisu.",
    ),
    "mfa": ("second-factor-required", "Podaj kod z aplikacji uwierzytelniającej."),
}


def _refuse_restricted(principal: Principal, handler: Any) -> None:
    allowed: frozenset[str] = getattr(handler, "ebok_allowed_restrictions", frozenset())
    blocking = sorted(principal.restrictions - allowed)
    if blocking:
        code, detail = RESTRICTION_PROBLEMS.get(
            blocking[0], ("restricted-session", "Ta sesja ma ograniczony dostęp.")
        )
        raise Problem(403, detail, code=code, restrictions=blocking)


def _correlation_id(request: web.Request) -> str:
    """The caller's correlation id when it is one we can log as it is, else a new one."""
    incoming = request.headers.get(CORRELATION_HEADER, "")
    return incoming if _CID_RE.match(incoming) else new_correlation_id()


_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def new_correlation_id() -> str:
    """A random UUID (version 4) as text, as ``str(uuid.uuid4())`` writes it, from the
    process's generator (seeded from the system's, and again in a forked child): an id to
    trace a request by, not a secret, made without a system call and a UUID object on every
    request (a quarter of its time)."""
    h = f"{getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def _count(request: web.Request, status: int, started: float) -> None:
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    counted, timed = _series(request.method, name, status)
    counted.inc()
    timed.observe(time.perf_counter() - started)


@web.middleware
async def correlation_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    cid = _correlation_id(request)
    token = correlation_id_var.set(cid)
    # Bound and reset by token, not with ``bound_contextvars``: that one copies the whole
    # context to save what it overrides, twice per request on every request.
    bound = structlog.contextvars.bind_contextvars(correlation_id=cid)
    try:
        response = await handler(request)
        response.headers[CORRELATION_HEADER] = cid
        return response
    finally:
        structlog.contextvars.reset_contextvars(**bound)
        correlation_id_var.reset(token)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        _count(request, status, started)


@web.middleware
async def observed_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The correlation id and the request's metrics in one layer (web's pages: every layer
    is a coroutine and a call more on every page). The id is set for the log lines
    (``logs._add_correlation_id`` writes it into each) and not bound into structlog's
    context as well: the same line, without two context writes per request. An answer
    raised as an exception (a redirect) carries the id too and is counted with its status."""
    cid = _correlation_id(request)
    token = correlation_id_var.set(cid)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers[CORRELATION_HEADER] = cid
        return response
    except web.HTTPException as exc:
        status = exc.status
        exc.headers[CORRELATION_HEADER] = cid
        raise
    finally:
        _count(request, status, started)
        correlation_id_var.reset(token)


@functools.lru_cache(maxsize=4096)
def _series(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The request counter's and latency histogram's series of one method, route and status,
    looked up once (``labels`` checks and locks on every call). Bounded: a route is a route
    of the app or "unmatched", and the few methods and statuses beyond that fall out."""
    return (
        HTTP_REQUESTS.labels(method, route, str(status)),
        HTTP_LATENCY.labels(method, route),
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    return await render(request, handler)


def auth_middleware(verifier: TokenVerifier) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (
            getattr(handler, "ebok_public", False)
            or request.method == "OPTIONS"
            or request.match_info.http_exception is not None  # 404/405 need no token
        ):
            return await handler(request)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Problem(
                401,
                "Brak tokenu dostępu.",
                code="unauthorized",
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            principal = await verifier.verify(token.strip())
        except InvalidToken as exc:
            log.info("token refused", reason=str(exc))
            raise Problem(
                401,
                "Token dostępu jest nieprawidłowy lub wygasł.",
                code="invalid-token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from None
        _refuse_restricted(principal, handler)
        request[PRINCIPAL] = principal
        bound = structlog.contextvars.bind_contextvars(
            principal=f"{principal.kind}:{principal.subject}"
        )
        try:
            return await handler(request)
        finally:
            structlog.contextvars.reset_contextvars(**bound)

    return middleware


@web.middleware
async def role_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An operator route's role (``roles.operator_role``), checked after the token is known
    valid and not revoked: a revoked token is a 401 on every route, a missing role a 403."""
    role = role_of(handler)
    if role is not None:
        check_role(request, request[PRINCIPAL], role)
    return await handler(request)


def idempotency_middleware(pool_getter: Any) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        # The rest, the reads behind every dashboard among them, go straight on.
        if not idempotency.applies(request) or getattr(handler, "ebok_secret_answer", False):
            return await handler(request)
        principal = request.get(PRINCIPAL)
        subject = f"{principal.kind}:{principal.subject}" if principal else "anonymous"
        return await idempotency.handle(request, handler, pool_getter(request.app), subject)

    return middleware


def require(request: web.Request, *kinds: str, role: str | None = None) -> Principal:
    """The caller, if it is one of ``kinds`` (and, an operator, has ``role``: see
    ``roles.check_role``); otherwise 403."""
    principal = request.get(PRINCIPAL)
    if principal is None:
        raise Problem(401, headers={"WWW-Authenticate": "Bearer"})
    if principal.kind not in kinds:
        raise Problem(403, "Nie masz uprawnień do tej operacji.", code="forbidden")
    if role is not None:
        check_role(request, principal, role)
    return principal
