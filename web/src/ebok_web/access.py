"""Who is signed in, what their session may reach, and the gateway called on their behalf.

``customer_page`` guards every customer page: no session → the sign-in page (and back
afterwards); a restricted session (first login: password to change; new terms to accept)
reaches only its own page — plus the GDPR rights (export, deletion), which do not depend on
accepting new terms. ``api(request)`` calls the gateway with the session's token, refreshing
it first when it is about to expire; a token the gateway no longer accepts (logout elsewhere,
a blocked account, erasure) ends the web session at once.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler
from ebok_shared.http.forwarded import is_trusted
from ebok_shared.logs import get_logger
from multidict import CIMultiDict

from .gateway import Reply
from .keys import GATEWAY, SESSION, SETTINGS, is_console, store_of
from .rendering import redirect, secure
from .sessions import REFRESH_MARGIN, Session

log = get_logger(__name__)

PASSWORD_PAGE = "/haslo/zmiana"
TERMS_PAGE = "/regulamin/akceptacja"
SIGN_IN_PAGE = "/logowanie"
CONSOLE_SIGN_IN_PAGE = "/operator/logowanie"
CONSOLE_PASSWORD_PAGE = "/operator/haslo"
# Pages of each restriction: where a restricted session is sent.
RESTRICTION_PAGES = {"password_change": PASSWORD_PAGE, "regulations": TERMS_PAGE}
# The gateway's refusal codes that mean "this session is restricted".
RESTRICTION_CODES = {
    "password-change-required": "password_change",
    "regulations-acceptance-required": "regulations",
}


def restriction_page(request: web.Request, restriction: str) -> str:
    """Where a restricted session is sent: an operator's first password in the console."""
    if restriction == "password_change" and is_console(request):
        return CONSOLE_PASSWORD_PAGE
    return RESTRICTION_PAGES[restriction]


class SignedOut(Exception):
    """The gateway no longer accepts this session's tokens."""


_CLIENT_IP = web.RequestKey("client_ip", str)


def client_ip(request: web.Request) -> str:
    """The customer's address, passed on to the gateway (which trusts it from web only);
    worked out once per request, however many calls the page makes."""
    known = request.get(_CLIENT_IP)
    if known is not None:
        return known
    address = request.remote or "unknown"
    if is_trusted(request.remote, request.app[SETTINGS].trusted_proxies):
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
        if forwarded:
            address = forwarded
    request[_CLIENT_IP] = address
    return address


def session_of(request: web.Request) -> Session | None:
    return request.get(SESSION)


def customer_page(*, allow: tuple[str, ...] = ()) -> Callable[[Handler], Handler]:
    """A page for a signed-in customer; ``allow``: restrictions under which it still opens."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            session = session_of(request)
            if session is None or session.kind != "customer" or not session.signed_in:
                back = request.path_qs if request.method == "GET" else "/"
                redirect(f"{SIGN_IN_PAGE}?next={quote(back, safe='/')}")
            for restriction in session.restrictions:
                if restriction not in allow and restriction in RESTRICTION_PAGES:
                    redirect(RESTRICTION_PAGES[restriction])
            return await handler(request)

        # a marker attribute on the handler function, read by the session guard
        guarded.ebok_allowed_restrictions = allow  # type: ignore[attr-defined]
        return guarded

    return wrap


class Api:
    """The gateway on behalf of the request's signed-in session."""

    def __init__(self, request: web.Request) -> None:
        self._request = request

    async def call(self, method: str, path: str, **kwargs: Any) -> Reply:
        request = self._request
        session = session_of(request)
        token = None
        if session is not None and session.signed_in:
            if session.access_expires - time.time() <= REFRESH_MARGIN:  # else fresh enough
                session = await fresh(request, session)
            token = session.access_token
        reply = await request.app[GATEWAY].call(
            method, path, token=token, client_ip=client_ip(request), **kwargs
        )
        return self._checked(reply, token, session)

    async def _token(self) -> tuple[str | None, Session | None]:
        request = self._request
        session = session_of(request)
        if session is not None and session.signed_in:
            session = await fresh(request, session)
            return session.access_token, session
        return None, session

    def _checked(self, reply: Reply, token: str | None, session: Session | None) -> Reply:
        """A refusal that ends the session or holds it to a page acts here, for every call."""
        if reply.status == 401 and token is not None:
            raise SignedOut(reply.code)
        if reply.status == 403 and reply.code in RESTRICTION_CODES and session is not None:
            restriction = RESTRICTION_CODES[reply.code]
            if restriction not in session.restrictions:
                session.restrictions.append(restriction)
            redirect(restriction_page(request=self._request, restriction=restriction))
        return reply

    async def download(self, path: str, filename: str) -> Reply | web.StreamResponse:
        """``path``'s answer passed on to the browser as it comes (a large archive is never
        held whole in web) as an attachment named ``filename``, with the gateway's content
        type; a refusal comes back as the Reply, for the page to say why."""
        request = self._request
        token, session = await self._token()
        gateway = request.app[GATEWAY]
        timeout = request.app[SETTINGS].gateway_timeout
        address = client_ip(request)
        async with gateway.opened(
            path, token=token, client_ip=address, read_timeout=timeout
        ) as resp:
            if not 200 <= resp.status < 300:
                reply = Reply(resp.status, CIMultiDict(resp.headers), await resp.read())
                return self._checked(reply, token, session)
            out = web.StreamResponse(
                headers={
                    "Content-Type": resp.headers.get("Content-Type", "application/octet-stream"),
                    "Content-Disposition": f'attachment; filename="{filename}"',
                }
            )
            if resp.content_length is not None:
                out.content_length = resp.content_length
            secure(request, out)  # the headers middleware comes after the answer has gone
            await out.prepare(request)
            async for chunk in resp.content.iter_chunked(256 * 1024):
                await out.write(chunk)
            await out.write_eof()
            return out

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("PUT", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("DELETE", path, **kwargs)


def api(request: web.Request) -> Api:
    return Api(request)


def adopt_tokens(session: Session, answer: dict[str, Any], kind: str) -> None:
    """Keep a login's or refresh's tokens (as the auth service answered them)."""
    # kind comes from auth's answer or the session itself: always one of Session.kind
    session.kind = kind  # type: ignore[assignment]
    session.access_token = str(answer["access_token"])
    session.refresh_token = str(answer.get("refresh_token") or session.refresh_token or "")
    session.access_expires = time.time() + float(answer.get("expires_in", 300))
    session.restrictions = list(answer.get("restrictions") or [])
    if kind == "operator":  # auth lists them in its login's and refresh's answers
        listed = answer.get("roles")
        session.roles = sorted(map(str, listed)) if isinstance(listed, list) else []
    else:
        session.roles = []


async def fresh(request: web.Request, session: Session) -> Session:
    """The session with an access token valid for a while yet (refreshed here if not)."""
    if session.access_expires - time.time() > REFRESH_MARGIN:
        return session
    store = store_of(request)
    stale = session.access_token
    if not await store.lock(session):
        # Another request refreshes it, or another call of this request (a page asking the
        # API several things at once shares its session object).
        updated = await store.wait_for_refresh(session, stale)
        if updated is None:
            raise SignedOut("refresh-failed")
        if updated is not session:
            _replace(request, session, updated)
        return session
    try:
        # A request that loaded the session before another one refreshed it gets the lock
        # after that one let it go: the stored session may already be fresh (its refresh
        # token rotated: using the old one again would end the whole session family).
        current = await store.load(session.id, session.audience)
        if current is not None and current.access_token != stale:
            _replace(request, session, current)
            return session
        reply = await request.app[GATEWAY].call(
            "POST",
            "/sessions/refresh",
            json_body={"refresh_token": session.refresh_token},
            client_ip=client_ip(request),
        )
        if not reply.ok:
            raise SignedOut(reply.code or str(reply.status))
        adopt_tokens(session, reply.json(), session.kind)
        await store.save(session)
        session.loaded_as = session.as_json()  # stored as it is now
    finally:
        await store.unlock(session)
    return session


def _replace(request: web.Request, session: Session, updated: Session) -> None:
    for name in ("access_token", "refresh_token", "access_expires", "restrictions"):
        setattr(session, name, getattr(updated, name))
    session.loaded_as = updated.loaded_as


async def sign_out(request: web.Request, session: Session) -> None:
    """End the gateway's session too (best effort: the token may already be dead)."""
    if session.signed_in:
        try:
            await request.app[GATEWAY].call(
                "DELETE",
                "/sessions/current",
                token=session.access_token,
                client_ip=client_ip(request),
            )
        except Exception as exc:  # the web session ends whatever the gateway says
            log.info("gateway logout failed", error=type(exc).__name__)
    await store_of(request).delete(session)
