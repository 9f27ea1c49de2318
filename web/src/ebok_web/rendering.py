"""Pages: one Jinja2 environment (autoescaped), the layout's context, and answers.

Every page is ``render(request, "area/page.html", title=…, …)``; personal pages are never
stored by a browser or a proxy (``Cache-Control: no-store`` on every HTML answer: a shared
computer's back button must not show someone else's invoices).
"""

from __future__ import annotations

import hashlib
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

import jinja2
from aiohttp import web
from multidict import CIMultiDict

from . import formatting, operator_roles
from .keys import SESSION, SETTINGS, TEMPLATES, is_console

HERE = Path(__file__).parent
STATIC = HERE / "static"

CONTACT = {
    "utility": "Miejskie Przedsiębiorstwo Wodociągów i Kanalizacji w m.st. Warszawie S.A.",
    "email": "ebok@mpwik.com.pl",
    "phone": "22 445 50 00",
    "phone_href": "+48224455000",
}


@cache
def _asset_version(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


# The CSRF token of the page being rendered (its session's), for the macros' forms: they are
# imported without the page's context, so Jinja2 builds them once per process and shares
# them between pages — the token itself is read from here while each page renders.
_page_csrf: ContextVar[str] = ContextVar("page_csrf", default="")


def csrf_token() -> str:
    """The CSRF token of the session whose page is being rendered ("" outside a page)."""
    return _page_csrf.get()


def static_url(name: str) -> str:
    """``/static/ebok.css?v=<hash>``: cached for a year, a new file gets a new address."""
    return f"/static/{name}?v={_asset_version(name)}"


# The tag's colour class of an invoice's status (its words come with the invoice: status_label).
_INVOICE_TAGS = {"paid": "ok", "overdue": "bad", "corrected": "neutral"}


def invoice_tag(status: Any) -> str:
    """A filter, not a dict literal and its ``.get`` in the template: Jinja2 builds the dict
    and calls through its context machinery on every row."""
    return _INVOICE_TAGS.get(status, "warn")


# What a plain dict answers as an attribute (its methods): ``x.items`` stays the method.
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(jinja2.Environment):
    """``x.field`` on the gateway's JSON (plain dicts) reads the key at once. Jinja2 tries
    ``getattr`` first, which raises AttributeError for every such field, on every page; the
    answer is the same: a name that is not a dict's attribute could only be its key."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass  # Jinja2's own way: undefined
        return super().getattr(obj, attribute)


def environment() -> jinja2.Environment:
    env = _Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        # The templates ship with the package: compiled once, never stat()ed per page.
        auto_reload=False,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(formatting.FILTERS)
    env.filters["invoice_tag"] = invoice_tag
    env.globals.update(
        static=static_url,
        csrf_token=csrf_token,
        contact=CONTACT,
        console_menu=operator_roles.menu,
        role_names=operator_roles.ROLE_NAMES,
    )
    return env


def render(
    request: web.Request,
    template: str,
    *,
    title: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> web.Response:
    session = request.get(SESSION)
    flash: list[str] = []
    if session is not None and session.flash:
        flash, session.flash = session.flash, []
    csrf = session.csrf if session is not None else ""
    page_csrf = _page_csrf.set(csrf)
    try:
        html = (
            request.app[TEMPLATES]
            .get_template(template)
            .render(
                request=request,
                title=title,
                session=session,
                csrf=csrf,
                flash=flash,
                path=request.path,
                settings=request.app[SETTINGS],
                # The console's pages (and its error pages) in the console's own layout.
                layout="console/layout.html" if is_console(request) else "layout.html",
                home="/operator" if is_console(request) else "/",
                **{"read_only": None, **context},  # a read-only section's message hides forms
            )
        )
    finally:
        _page_csrf.reset(page_csrf)
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    response.headers.update(headers or {})
    return response


def redirect(location: str) -> NoReturn:
    """POST → redirect → GET (303 makes the browser GET the new address)."""
    raise web.HTTPSeeOther(location)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only our own pages are a place to go back to after signing in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


# -- headers of every answer ----------------------------------------------------------------

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)


# The headers every answer gets, set in one call (``update`` replaces, as setting each did).
_EVERY_ANSWER = CIMultiDict(
    {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
)
# Static files' addresses carry the file's hash (static_url): a new file, a new address.
_STATIC_CACHING = "public, max-age=31536000, immutable"


def secure(request: web.Request, response: web.StreamResponse) -> None:
    """The headers of every answer web gives (a streamed one sets them before it starts)."""
    headers = response.headers
    headers.update(_EVERY_ANSWER)
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.scheme == "https":
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if request.path.startswith("/static/"):
        headers["Cache-Control"] = _STATIC_CACHING
    else:
        headers["Cache-Control"] = "no-store"
