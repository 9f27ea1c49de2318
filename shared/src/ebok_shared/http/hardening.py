"""What every answer and every request of every component gets, whatever the handler does.

Answers: no ``Server`` header naming the framework and its version (nothing to fingerprint),
and ``Cache-Control: no-store`` unless the handler chose otherwise. No-store is the default
for every API answer, not only those with tokens: nearly every answer is a customer's
personal data or a secret (tokens, a generated password, invoices, cases), and the few
public ones (regulations, portal sections) lose nothing by being asked again; a handler that
wants caching says so itself.

The framework answers a request it cannot parse (a bad request line, a header that is not
valid) itself, before any route, middleware or ``on_response_prepare`` signal runs: that
answer loses the header too, by the request class the app makes every request with.

Requests: text a handler would fail on deep inside (a database refusing a NUL byte, a
password hasher refusing a lone surrogate, a header that is not ASCII) is refused at the
door as a 400 problem naming the parameter or header.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from .params import bad

# Printable ASCII (and the space): what a token, a key or a correlation id may hold.
_VISIBLE_ASCII = re.compile(r"[\x20-\x7e]*")
# NUL and the other C0 controls but tab, CR and LF; DEL; UTF-16 surrogates (text that came
# from invalid UTF-8 or a lone "\ud800" escape): text that no part of e-BOK stores or uses.
_FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def forbidden_text(value: str) -> bool:
    """Does ``value`` hold a character no e-BOK text may (see _FORBIDDEN_CHARACTERS)?"""
    return _FORBIDDEN_CHARACTERS.search(value) is not None


@web.middleware
async def request_guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = request.headers.get("Authorization")
    if token is not None and not _VISIBLE_ASCII.fullmatch(token):
        raise bad("Authorization", "nagłówek może zawierać tylko znaki ASCII")
    key = request.headers.get("Idempotency-Key")  # its own rules: ebok_shared.http.idempotency
    if key is not None and forbidden_text(key):
        raise bad("Idempotency-Key", "niedozwolony znak")
    for name, value in request.query.items():
        if forbidden_text(name) or forbidden_text(value):
            raise bad(name if not forbidden_text(name) else "(query)", "niedozwolony znak")
    if forbidden_text(request.path):
        raise bad("(path)", "niedozwolony znak w adresie")
    return await handler(request)


class _UnbrandedRequest(web.Request):
    """A request whose answer never carries ``Server``, whatever prepared it: a handler, the
    router's 404, or aiohttp's own answer to a malformed request (which has no route, so the
    app's ``on_response_prepare`` signal never runs for it)."""

    async def _prepare_hook(self, response: web.StreamResponse) -> None:
        # Runs after aiohttp set its default headers and before they are written.
        response.headers.popall("Server", None)
        await super()._prepare_hook(response)

    # ``request.get(KEY)`` and ``KEY in request`` of a key not set (what a request has not
    # worked out yet, a page not ended): the mapping's defaults ask ``request[KEY]`` and
    # catch its KeyError, an exception raised and caught several times on every page.
    # Answered from the request's own dict (aiohttp's ``__getitem__`` reads it) at once.
    def get(self, key: Any, default: Any = None) -> Any:
        return self._state.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._state


async def _no_store_by_default(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Cache-Control", "no-store")


def harden_answers(app: web.Application, *, cache_control: bool = True) -> None:
    """Every answer of ``app`` without a Server header and (``cache_control``) no-store by
    default. The web front end sets its own caching (static files are cached for a year)."""
    # The app's request factory takes the request class as a parameter (``_cls``): the one
    # place every request of a runner serving ``app`` is made, malformed ones included.
    app._make_request = partial(app._make_request, _cls=_UnbrandedRequest)  # type: ignore[method-assign]
    if cache_control:
        app.on_response_prepare.append(_no_store_by_default)
