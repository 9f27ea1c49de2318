"""The operator console's access: who is signed in at ``/operator``, whether their roles
allow a page (``operator_roles``), and the API's refusals (403) turned into a Polish page
naming the missing role, logged with the operator and the page."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NoReturn
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler
from ebok_shared.logs import get_logger

from .access import CONSOLE_PASSWORD_PAGE, CONSOLE_SIGN_IN_PAGE, session_of
from .gateway import Reply
from .operator_roles import ROLE_NAMES, may
from .rendering import redirect, render
from .sessions import Session

log = get_logger(__name__)

HOME = "/operator"
PASSWORD_PAGE = CONSOLE_PASSWORD_PAGE


class Forbidden(Exception):
    """The API refused the operator (403): the role it names, or the page's."""

    def __init__(self, role: str | None, detail: str = "") -> None:
        super().__init__(role)
        self.role = role
        self.detail = detail


def refused_role(reply: Reply) -> str | None:
    """The role a 403 ``role-required`` problem names (``ebok_shared.http.roles``)."""
    value = reply.problem.get("role")
    return value if isinstance(value, str) and value else None


def checked(reply: Reply) -> Reply:
    """The reply, unless the API refused the operator's role: then the role page."""
    if reply.status == 403:
        raise Forbidden(refused_role(reply), str(reply.problem.get("detail") or ""))
    return reply


def forbidden_page(request: web.Request, role: str | None, detail: str = "") -> web.Response:
    session = session_of(request)
    log.warning(
        "console page refused",
        path=request.path,
        operator=session.login if session else None,
        role=role,
    )
    return render(
        request,
        "console/forbidden.html",
        title="Brak uprawnień",
        status=403,
        role=role,
        role_name=ROLE_NAMES.get(role or "", role),
        detail=detail,
    )


def signed_in_operator(request: web.Request) -> Session | None:
    session = session_of(request)
    if session is None or session.kind != "operator" or not session.signed_in:
        return None
    return session


def console_page(role: str | None = None) -> Callable[[Handler], Handler]:
    """A console page: a signed-in operator (else the console's sign-in, and back after),
    whose first password is changed, and whose roles allow ``role`` (else the 403 page,
    as also when the API refuses a call the page makes)."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            session = signed_in_operator(request)
            if session is None:
                back = request.path_qs if request.method == "GET" else HOME
                redirect(f"{CONSOLE_SIGN_IN_PAGE}?next={quote(back, safe='/')}")
            if "password_change" in session.restrictions and request.path != PASSWORD_PAGE:
                redirect(PASSWORD_PAGE)
            if role is not None and not may(session, role):
                return forbidden_page(request, role)
            try:
                return await handler(request)
            except Forbidden as refusal:
                return forbidden_page(request, refusal.role or role, refusal.detail)

        return guarded

    return wrap


def passthrough(reply: Reply, fallback_name: str = "plik") -> web.Response:
    """A document the API answered (an attachment, a photo), handed to the browser as is."""
    disposition = reply.headers.get("Content-Disposition") or f'inline; filename="{fallback_name}"'
    return web.Response(
        body=reply.body,
        headers={
            "Content-Type": reply.headers.get("Content-Type", "application/octet-stream"),
            "Content-Disposition": disposition,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def page_number(request: web.Request) -> str:
    raw = request.query.get("page", "1")
    return raw if raw.isdigit() and 0 < int(raw) < 100000 else "1"


def done(request: web.Request, message: str, where: str) -> NoReturn:
    """An action succeeded: say so on the next page (POST → redirect → GET)."""
    session = session_of(request)
    if session is not None:
        session.flash.append(message)
    redirect(where)
