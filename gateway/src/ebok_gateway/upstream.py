"""Calls from the gateway to the services: one client session, timeouts on every call, and
upstream failures mapped to meaningful problems (never upstream internals).

The session is the gateway's own (``session``): kept-alive connections, at most
``per_service`` at a time to each service. A bound per service, not one for all: with a
single shared bound, a service that hangs would hold every connection and the other
services' calls would queue behind it (head-of-line blocking across services). Calls over a
service's bound wait in our own line per service (first come, first served, ``Upstreams.call``)
for one of its connections.

The aggregated views' GETs (``json``, ``batch``: every dashboard's four calls) go over a lean
lane of kept connections per service instead (ebok_shared.http.lane, bounded the same), at a
third of aiohttp's CPU per call; whatever the lane does not read is asked through the session.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
from ebok_shared.http.lane import HttpLane
from ebok_shared.http.middleware import CORRELATION_HEADER
from ebok_shared.http.problems import CONTENT_TYPE as PROBLEM_TYPE
from ebok_shared.http.problems import Problem
from ebok_shared.logs import correlation_id_var, get_logger

from .breaker import Breaker

log = get_logger(__name__)

SERVICE_NAMES_PL = {
    "auth": "logowania i kont",
    "billing": "rozliczeń",
    "readings": "odczytów",
    "correspondence": "korespondencji",
    "notifier": "powiadomień",
}
BATCH_WITHIN = 0.9  # of the part timeout: what a service has for a batch's parts
_PASSED_PROBLEM_FIELDS = ("type", "title", "status", "detail", "code", "errors", "restrictions")


@dataclass(frozen=True)
class UpstreamResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def unavailable(service: str, status: int = 503) -> Problem:
    return Problem(
        status,
        f"Usługa {SERVICE_NAMES_PL.get(service, service)} jest chwilowo niedostępna. "
        "Spróbuj ponownie za chwilę.",
        code="service-unavailable" if status == 503 else "service-timeout",
        service=service,
    )


def session(per_service: int) -> aiohttp.ClientSession:
    """The gateway's client session for the services (see the module's docstring)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, limit_per_host=per_service, keepalive_timeout=30),
        timeout=aiohttp.ClientTimeout(total=10, connect=2),
    )


def _answer_within(seconds: float) -> aiohttp.ClientTimeout:
    """A service's answer within ``seconds`` of the call reaching it: connecting, and the
    answer's first byte (and each next one) after the request went out. The wait for a free
    connection is not counted: that is the gateway's own queue under load, not the service
    being slow or down; the caller's overall budget bounds it."""
    return aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)


class Upstreams:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_urls: dict[str, str],
        timeout: float,
        breaker_cooldown: float = 1.0,
    ):
        self.session = session
        self.base_urls = base_urls
        self.timeout = timeout
        self._answer_within: dict[float, aiohttp.ClientTimeout] = {}
        # Our own line per service, as long as its bound on connections (see ``call``).
        per_service = getattr(session.connector, "limit_per_host", 0) or 0
        self._lines = {s: asyncio.Semaphore(per_service) for s in base_urls} if per_service else {}
        # The views' GETs, over connections of their own: as many as the line lets through.
        self._lanes = {
            s: HttpLane(url, timeout=timeout, limit=per_service or 100)
            for s, url in base_urls.items()
        }
        # For the aggregated views' parts only: a forwarded request is the caller's own.
        self.breakers = {s: Breaker(cooldown=breaker_cooldown) for s in base_urls}

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        params: Any = None,
        data: bytes | None = None,
        timeout: float | None = None,
        answer_within: float | None = None,
        lean: bool = False,
    ) -> UpstreamResponse:
        """One call; connection failures and timeouts become 503/504 problems. ``timeout``
        bounds the whole call; ``answer_within`` instead only the service's part of it
        (``_answer_within``). ``lean``: a small answer, asked over the service's lane
        (ebok_shared.http.lane) when it is a bodiless GET the lane can make; not for what a
        service may stream (an attachment), which the lane would leave to the session after
        asking it once already."""
        sent = dict(headers or {})
        cid = correlation_id_var.get()
        if cid:
            sent[CORRELATION_HEADER] = cid
        url = self.base_urls[service] + path
        total = None if answer_within is not None else (timeout or self.timeout)
        if answer_within is not None:
            limits = self._answer_within.get(answer_within)
            if limits is None:
                limits = self._answer_within[answer_within] = _answer_within(answer_within)
        # Calls over the service's bound wait in our own line, strictly first come, first
        # served (asyncio's semaphore lets nobody jump in), so the connector never has a call
        # waiting: its own waiting is not fair (a call just made takes a connection put back
        # before the call woken for it runs, and a connection put back may wake a call for
        # another service), and under load the calls made early were overtaken again and
        # again: an asked dashboard's p99 was 3-4 times its p50.
        # A whole-call ``timeout`` counts the line too, as it counted the connector's.
        line = self._lines.get(service)
        try:
            began = asyncio.get_running_loop().time()
            within = answer_within  # the lane's bound: the service's part, or the time left
            if line is not None:
                if total is None or not line.locked():  # no bound, or no wait: no timer
                    await line.acquire()
                else:
                    async with asyncio.timeout(total):
                        await line.acquire()
            if total is not None:
                within = max(total - (asyncio.get_running_loop().time() - began), 0.001)
                limits = aiohttp.ClientTimeout(total=within)
            try:
                if lean and method == "GET" and data is None and not params:
                    answer = await self._lanes[service].get(path, sent, timeout=within)
                    if answer is not None:
                        return UpstreamResponse(*answer)
                async with self.session.request(
                    method,
                    url,
                    headers=sent,
                    params=params,
                    data=data,
                    timeout=limits,
                    allow_redirects=False,
                ) as resp:
                    body = await resp.read()
                    return UpstreamResponse(resp.status, dict(resp.headers), body)
            finally:
                if line is not None:
                    line.release()
        except TimeoutError:
            log.warning("upstream timeout", service=service, path=path)
            raise unavailable(service, 504) from None
        except (aiohttp.ClientError, OSError) as exc:
            log.warning("upstream unreachable", service=service, path=path, error=repr(exc))
            raise unavailable(service) from None

    def close(self) -> None:
        """The lanes' kept connections closed (the session is its owner's to close)."""
        for lane in self._lanes.values():
            lane.close()

    async def json(
        self,
        service: str,
        path: str,
        *,
        token: str,
        timeout: float,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """GET a JSON document for an aggregated view; any non-200 is an error of that part.
        ``timeout`` bounds the service's answer once the call reached it (``_answer_within``:
        the client's own socket timeouts, no extra task per call); the caller's budget bounds
        the whole call, waiting for a connection included. A service taken as down
        (breaker.py) is not called: unavailable at once."""
        breaker = self.breakers[service]
        if breaker.is_open():
            raise unavailable(service)
        try:
            resp = await self.call(
                service,
                "GET",
                path,
                headers={**(headers or {}), "Authorization": f"Bearer {token}"},
                answer_within=timeout,
                lean=True,
            )
        except Problem:
            breaker.failed()
            raise
        _count(breaker, resp.status)
        if resp.status != 200:
            raise as_problem(service, resp)
        return resp.json()

    async def batch(
        self, service: str, parts: Sequence[tuple[str, str]], token: str, timeout: float
    ) -> list[Any] | None:
        """Several GETs of one service in one call (its ``GET /batch``, ebok_shared.http.batch),
        ``parts`` as (path, hidden item ids): each part's JSON document, or the problem it
        answered (as ``json`` would raise it); None from a service without batches (an older
        release, during a rollout). A failure of the call itself raises, as in ``json``;
        the breaker counts each part's outcome, as if the part had been asked on its own."""
        breaker = self.breakers[service]
        if breaker.is_open():
            raise unavailable(service)
        try:
            resp = await self.call(
                service,
                "GET",
                _batch_query(parts, timeout),
                headers={"Authorization": f"Bearer {token}"},
                answer_within=timeout,
                lean=True,
            )
        except Problem:
            for _ in parts:  # each part failed, as if asked on its own
                breaker.failed()
            raise
        if resp.status in (404, 405):  # the batch itself never answers these: no such route
            breaker.answered()
            return None
        if resp.status != 200:
            for _ in parts:
                _count(breaker, resp.status)
            raise as_problem(service, resp)
        answers = []
        for part in resp.json()["parts"]:
            status = int(part["status"])
            # Each part counts, as if asked on its own: the breaker's threshold means the same.
            _count(breaker, status)
            if status == 200:
                answers.append(part["body"])
                continue
            body = orjson.dumps(part["body"])
            answers.append(
                as_problem(
                    service,
                    UpstreamResponse(status, {"Content-Type": PROBLEM_TYPE}, body),
                )
            )
        return answers


def _count(breaker: Breaker, status: int) -> None:
    """An answer in the service's breaker: a 5xx is a failure, any other an answer."""
    if status >= 500:
        breaker.failed()
    else:
        breaker.answered()


def _batch_query(parts: Sequence[tuple[str, str]], timeout: float) -> str:
    if any(ids for _, ids in parts):  # a client's own hidden items: never kept
        return _encoded(tuple(parts), timeout)
    return _plain_batch(tuple(path for path, _ in parts), timeout)


@functools.lru_cache(maxsize=64)
def _plain_batch(paths: tuple[str, ...], timeout: float) -> str:
    """The query of a batch with nothing hidden: the same few for every customer (the
    dashboard's parts), encoded once (urlencode cost ~3 % of the gateway's CPU per view)."""
    return _encoded(tuple((path, "") for path in paths), timeout)


def _encoded(parts: tuple[tuple[str, str], ...], timeout: float) -> str:
    # The service answers a bit within the part timeout, a part not ready by then as late:
    # the others of the batch are not lost with it.
    within = ("within", f"{timeout * BATCH_WITHIN:.3f}")
    return "/batch?" + urlencode(
        [("part", path) for path, _ in parts] + [("hidden", ids) for _, ids in parts] + [within]
    )


def as_problem(service: str, resp: UpstreamResponse) -> Problem:
    """A service's problem is passed on (its fields are ours and Polish); anything else that
    is not a success is reported without its body."""
    if resp.headers.get("Content-Type", "").startswith("application/problem+json"):
        try:
            data = resp.json()
            fields = {k: data[k] for k in _PASSED_PROBLEM_FIELDS if k in data}
            status = int(fields.pop("status", resp.status))
            detail = fields.pop("detail", None)
            code = fields.pop("code", None)
            title = fields.pop("title", None)
            fields.pop("type", None)
            errors = fields.pop("errors", None)
            if status < 500:
                return Problem(status, detail, code=code, title=title, errors=errors, **fields)
        except (ValueError, TypeError):
            pass
    if resp.status >= 500:
        return unavailable(service, 503)
    return Problem(resp.status)
