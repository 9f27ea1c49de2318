"""Web's middlewares, outermost first: correlation id and metrics (shared, one layer), then
``page_middleware``: security headers, error pages, the session, CSRF — in one layer (each
layer is a coroutine and a call more on every page), in that order."""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler
from ebok_shared.logs import get_logger

from .access import CONSOLE_SIGN_IN_PAGE, SIGN_IN_PAGE, SignedOut
from .gateway import GatewayUnavailable
from .keys import KEPT_PAGES, SESSION, SETTINGS, is_console, store_of
from .rendering import render, secure
from .sessions import COOKIES, Session, SessionStore

log = get_logger(__name__)

_ENDED = web.RequestKey("session_ended", bool)
_UNSESSIONED = ("/static/", "/health/", "/metrics")


def audience_of(request: web.Request) -> str:
    return "operator" if is_console(request) else "customer"


# -- sessions ---------------------------------------------------------------------------------


def ensure_session(request: web.Request) -> Session:
    """The request's session; an anonymous one is started for a page with a form."""
    session = request.get(SESSION)
    if session is None:
        session = store_of(request).new(audience_of(request))
        request[SESSION] = session
    return session


async def start_session(request: web.Request) -> Session:
    """A new session id for what the old one held (at sign-in, at a password change)."""
    renewed = await store_of(request).renew(ensure_session(request))
    request[SESSION] = renewed
    return renewed


def end_session(request: web.Request) -> None:
    request[_ENDED] = True


def _set_cookie(response: web.StreamResponse, name: str, value: str) -> None:
    response.set_cookie(name, value, path="/", secure=True, httponly=True, samesite="Lax")


async def _finish(
    request: web.Request,
    response: web.StreamResponse,
    incoming: str | None,
    audience: str,
    store: SessionStore,
) -> None:
    name = COOKIES[audience]
    session = request.get(SESSION)
    if request.get(_ENDED):
        if session is not None:
            request.app[KEPT_PAGES].drop(session)
            await store.delete(session)
        response.del_cookie(name, path="/", secure=True, httponly=True, samesite="Lax")
        return
    if session is None:
        return
    # Every request of a live session starts its idle time again: reading it did (the
    # store's load), so only a changed or new session is written.
    if session.loaded_as is None or session.as_json() != session.loaded_as:
        await store.save(session)
    if session.id != incoming:
        _set_cookie(response, name, session.id)


# What a session id is made of (secrets.token_urlsafe): a value of other characters, or a
# header with quoted values, is read by aiohttp's full cookie parser instead.
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_-]*")


def session_cookie(request: web.Request, name: str) -> str | None:
    """The value of the ``name`` cookie as aiohttp's ``request.cookies`` reads it (the last
    of that name), without parsing every cookie of the header on every page."""
    header = request.headers.get("Cookie")
    if not header or name not in header:
        return None
    if '"' in header or "\\" in header:
        return request.cookies.get(name)
    found = None
    for item in header.split(";"):
        key, equals, value = item.partition("=")
        if equals and key.strip() == name:
            found = value.strip()
    if found is not None and not _PLAIN_VALUE.fullmatch(found):
        return request.cookies.get(name)
    return found


async def _sessioned(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The request with its session (loaded before, kept or ended after), through CSRF."""
    if request.path.startswith(_UNSESSIONED):
        return await _through_csrf(request, handler)
    audience = audience_of(request)
    store = store_of(request)
    incoming = session_cookie(request, COOKIES[audience])
    if incoming:
        session = await store.load(incoming, audience)
        if session is not None:
            request[SESSION] = session
    try:
        response: web.StreamResponse = await _through_csrf(request, handler)
    except SignedOut as gone:
        log.info("session no longer accepted by the gateway", reason=str(gone))
        end_session(request)
        page = CONSOLE_SIGN_IN_PAGE if is_console(request) else SIGN_IN_PAGE
        response = web.HTTPSeeOther(f"{page}?wygasla=1")
    except web.HTTPException as exc:
        if exc.status >= 400:
            raise
        await _finish(request, exc, incoming, audience, store)
        raise
    await _finish(request, response, incoming, audience, store)
    return response


# -- CSRF -------------------------------------------------------------------------------------


def _own_origin(request: web.Request) -> str:
    base = request.app[SETTINGS].public_base_url
    if base:
        parts = urlsplit(base)
        return f"{parts.scheme}://{parts.netloc}"
    return f"{request.scheme}://{request.host}"


def csrf_refusal(request: web.Request, form_token: str | None) -> str | None:
    """Why this state-changing request is refused, or None: the form's synchronizer token
    must match the session's, and a browser's own word on where it came from (``Origin``,
    ``Sec-Fetch-Site``) must say this site."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return f"Sec-Fetch-Site: {site}"
    origin = request.headers.get("Origin")
    if origin is not None and origin != "null" and origin != _own_origin(request):
        return f"Origin: {origin}"
    session = request.get(SESSION)
    if session is None or not form_token:
        return "no session or no token"
    if not hmac.compare_digest(session.csrf.encode(), form_token.encode()):
        return "token mismatch"
    return None


_SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))


def _through_csrf(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """The handler's answer; a state-changing request only when its form passes CSRF."""
    if request.method in _SAFE_METHODS:
        return handler(request)  # nothing to check: no coroutine of its own
    return _csrf_checked(request, handler)


async def _csrf_checked(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = None
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        data = await request.post()  # kept by aiohttp: the handler reads the same form
        value = data.get("csrf")
        token = value if isinstance(value, str) else None
    reason = csrf_refusal(request, token)
    if reason is not None:
        log.warning("form refused (CSRF)", path=request.path, reason=reason)
        return render(
            request,
            "errors/csrf.html",
            title="Formularz wygasł",
            status=403,
        )
    return await handler(request)


# -- headers and error pages ------------------------------------------------------------------


_ERROR_PAGES = {
    404: ("errors/404.html", "Nie znaleziono strony"),
    405: ("errors/404.html", "Nie znaleziono strony"),
    413: ("errors/413.html", "Za duży plik lub formularz"),
}


@web.middleware
async def page_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every answer (outermost), error pages for what fails below, the
    session, CSRF (innermost): once middlewares of their own, one layer now."""
    try:
        try:
            response = await _sessioned(request, handler)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            template, title = _ERROR_PAGES.get(exc.status, ("errors/500.html", "Wystąpił błąd"))
            response = render(request, template, title=title, status=exc.status)
        except GatewayUnavailable:
            response = render(
                request, "errors/503.html", title="Serwis chwilowo niedostępny", status=503
            )
        except Exception:
            log.exception("unhandled error", path=request.path, method=request.method)
            response = render(request, "errors/500.html", title="Wystąpił błąd", status=500)
    except web.HTTPException as exc:
        secure(request, exc)
        raise
    if not response.prepared:  # a streamed answer set its headers before it started
        secure(request, response)
    return response
