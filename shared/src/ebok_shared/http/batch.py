"""Several of a service's own reads in one call (``GET /batch``), for the gateway's aggregated
views: the dashboard asks billing for four parts and readings for two, and each call costs
the gateway and the service far more (a request written and parsed on each side, a token
and revocation check, the middlewares, a log context) than the service's own read.

``GET /batch?part=<path>&part=<path>…`` with, for each part in the same order, a ``hidden``
parameter (possibly empty): the part's ``X-Ebok-Hidden-Items`` header (``params.hidden_items``;
the only header a view's parts differ by); and optionally ``within``, seconds: the parts run
side by side, and one not ready by then answers 504 (cancelled) while the others answer as
they are, so one slow read never takes its batch's other parts with it.

Each part is the service's own ``GET`` route run in this process, as if asked on its own with
the batch's headers: the batch's token was verified and its revocation checked once (the same
token for every part), each part's handler then checks its own restrictions and role, and
any error of a part becomes that part's problem, refusals logged and audited as for a direct
call (``problems.render``).
Nothing is shared between callers: a batch is one caller's call, under its correlation id.

The answer, ``{"parts": [{"status": <int>, "body": <the part's JSON answer>}, …]}``, holds
each part's answer as its handler wrote it (spliced in, not parsed and written again).
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware
from multidict import CIMultiDict

from .middleware import RESTRICTION_PROBLEMS, _refuse_restricted
from .params import HIDDEN_ITEMS_HEADER, bad
from .problems import CONTENT_TYPE as PROBLEM_TYPE
from .problems import Problem, problem_response, render
from .roles import check_role, role_of
from .tokens import PRINCIPAL

PATH = "/batch"
MAX_PARTS = 16
_JSON_TYPES = ("application/json", PROBLEM_TYPE)


@dataclass(frozen=True)
class _Around:
    middleware: Middleware


_AROUND = web.AppKey("batch_around", _Around)
_LATE = Problem(504, "Ta część nie została przygotowana na czas.", code="part-timeout")


async def batch(request: web.Request) -> web.Response:
    paths = request.query.getall("part", [])
    hidden = request.query.getall("hidden", [])
    if not paths or len(paths) > MAX_PARTS:
        raise bad("part", f"od 1 do {MAX_PARTS} części")
    if len(hidden) != len(paths):
        raise bad("hidden", "jeden parametr na każdą część")
    within = _within(request)
    tasks = [
        asyncio.ensure_future(_part(request, path, items))
        for path, items in zip(paths, hidden, strict=True)
    ]
    done, late = await asyncio.wait(tasks, timeout=within)
    for task in late:
        task.cancel()
    pieces = [
        task.result() if task in done else _piece(504, problem_response(_LATE, path).body)
        for task, path in zip(tasks, paths, strict=True)
    ]
    body = b'{"parts":[' + b",".join(pieces) + b"]}"
    return web.Response(body=body, content_type="application/json", charset="utf-8")


# Every restriction the shared middleware knows: each part's handler checks its own (a
# restricted token may read what that handler allows, as when asked on its own).
batch.ebok_allowed_restrictions = frozenset(RESTRICTION_PROBLEMS)  # type: ignore[attr-defined]


def _within(request: web.Request) -> float | None:
    raw = request.query.get("within")
    if raw is None:
        return None
    try:
        within = float(raw)
    except ValueError:
        within = -1.0
    if not 0 < within <= 60:
        raise bad("within", "liczba sekund od 0 do 60")
    return within


def _piece(status: int, body: bytes | Any) -> bytes:
    assert isinstance(body, bytes)
    return b'{"status":%d,"body":%s}' % (status, body)


async def _part(request: web.Request, path: str, hidden: str) -> bytes:
    """One part's ``{"status": …, "body": …}``, never an exception."""
    if (
        not path.startswith("/")
        or path.startswith("//")  # an address of another host, not a path of ours
        or path.partition("?")[0].rstrip("/") == PATH
    ):
        response: web.StreamResponse = problem_response(Problem(404), path)
    else:
        headers = _headers_of(request, hidden)
        sub = (
            request.clone(rel_url=path)
            if headers is None
            else request.clone(rel_url=path, headers=headers)
        )
        response = await _answer(request.app, sub)
    body = response.body if isinstance(response, web.Response) else None
    if not isinstance(body, bytes) or response.content_type not in _JSON_TYPES:
        body = problem_response(Problem(500), path).body
        status = 500
    else:
        status = response.status
    return _piece(status, body)


def _headers_of(request: web.Request, hidden: str) -> CIMultiDict[str] | None:
    """The part's headers: the batch's own, but for the hidden items (none from the batch, the
    part's if any). None when they are the batch's as they are (the dashboard's parts): a
    clone keeps the request's headers, without copying them and encoding each again."""
    if not hidden and HIDDEN_ITEMS_HEADER not in request.headers:
        return None
    headers = CIMultiDict(request.headers)
    headers.popall(HIDDEN_ITEMS_HEADER, None)
    if hidden:
        headers[HIDDEN_ITEMS_HEADER] = hidden
    return headers


async def _answer(app: web.Application, sub: web.Request) -> web.StreamResponse:
    match_info = await app.router.resolve(sub)
    match_info.add_app(app)
    match_info.freeze()
    sub._match_info = match_info  # what aiohttp's own dispatch sets (web_app._handle)
    handler = match_info.handler
    principal = sub.get(PRINCIPAL)  # always there behind the token check

    async def checked(request: web.Request) -> web.StreamResponse:
        if match_info.http_exception is not None:
            raise match_info.http_exception
        if request.method != "GET":  # never: a clone keeps GET; a write is never batched
            raise Problem(405)
        if principal is not None:
            _refuse_restricted(principal, handler)
            role = role_of(handler)
            if role is not None:
                check_role(request, principal, role)
        return await handler(request)

    around = app.get(_AROUND)
    if around is not None:
        return await render(sub, functools.partial(around.middleware, handler=checked))
    return await render(sub, checked)


def install(app: web.Application, around: Middleware | None = None) -> None:
    """``GET /batch`` on ``app`` (a service with a token-checking middleware); ``around``, a
    middleware each part runs in as well (the contract check of test stacks, which holds
    each part's answer to its route's contract as it would a direct answer)."""
    app.router.add_get(PATH, batch)
    if around is not None:
        app[_AROUND] = _Around(around)
