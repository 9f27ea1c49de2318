"""Simulated customers of e-BOK, for the load and soak benchmarks: each signs in and goes
through what a customer does on a visit, with a pause to read between steps, visit after
visit, until told to stop. Every request is recorded by route: when it started, how long it
took and whether it was answered as it should be.

A visit, through the gateway's API (``/api/v1``) and the portal (web):

    POST /sessions (sign-in) → GET /me/dashboard → GET /me/invoices → GET /me/balance
    → GET /me/meters/{serial}/readings → POST /me/meters/{serial}/readings (a new reading,
      a little above the last, with an Idempotency-Key) → GET /me/correspondence
    → every fourth visit POST /me/correspondence (a letter) → portal: GET /pulpit, GET /faktury
    → DELETE /sessions/current (sign-out)

On the first visit GET /me/meters and GET /me/contracts find the meter to read (installed, on
a contract in force). The portal's session comes from its own sign-in form (recorded as
"portal sign-in") on the customer's first visit and is kept; the API's token is new on every
visit. A customer thinks between steps for ``think`` seconds on average (uniformly 0.5 to 1.5
times it) — a real one reads for ten seconds or more, so one simulated customer at the
default 1 s weighs about as much as ten real ones.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import quote

import aiohttp

from bench.gateway import dashboard_judge
from bench.rules import percentile
from bench.stack import PASSWORD, PORTAL_COOKIE, address, portal_sign_in
from bench.web import page_judge

LETTER = {
    "kind": "letter",
    "subject": "Pytanie o rozliczenie",
    "content": "Proszę o informację, kiedy zostanie wystawiona następna faktura.",
}
LETTER_EVERY = 4  # visits: a letter is rarer than a look at the invoices
REQUEST_TIMEOUT = 30.0  # seconds; a request that takes longer counts as failed


@dataclass(frozen=True)
class Sample:
    route: str
    started: float  # loop time
    seconds: float
    ok: bool
    why: str = ""  # what came instead, when not ok: a status, "200 degraded", an exception


@dataclass(frozen=True)
class RouteStats:
    route: str
    count: int
    p50: float  # seconds
    p99: float
    errors: int

    @property
    def error_rate(self) -> float:
        return self.errors / self.count if self.count else 0.0


class Recorder:
    """Every request's sample, and the starts of those still in flight (so that a window's
    figures can wait for its slowest requests rather than leave them out)."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self._in_flight: dict[int, float] = {}
        self._next = 0

    def begin(self) -> tuple[int, float]:
        self._next += 1
        started = time.monotonic()
        self._in_flight[self._next] = started
        return self._next, started

    def end(self, token: tuple[int, float], route: str, ok: bool, why: str = "") -> None:
        ident, started = token
        self._in_flight.pop(ident, None)
        seconds = time.monotonic() - started
        self.samples.append(Sample(route, started, seconds, ok, "" if ok else why))

    async def settled(self, before: float, timeout: float = REQUEST_TIMEOUT + 5) -> None:
        """Wait until every request started before ``before`` has ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(s >= before for s in self._in_flight.values()):
                return
            await asyncio.sleep(0.05)

    def window(self, start: float, end: float) -> list[Sample]:
        return [s for s in self.samples if start <= s.started < end]


def by_route(samples: Iterable[Sample]) -> list[RouteStats]:
    """p50, p99 (of every request, answered well or not) and errors, per route."""
    grouped: dict[str, list[Sample]] = {}
    for sample in samples:
        grouped.setdefault(sample.route, []).append(sample)
    stats = []
    for route, group in grouped.items():
        seconds = [s.seconds for s in group]
        errors = sum(not s.ok for s in group)
        stats.append(
            RouteStats(
                route, len(group), percentile(seconds, 0.5), percentile(seconds, 0.99), errors
            )
        )
    return stats


def overall(samples: list[Sample]) -> tuple[float, float, float]:
    """p50 and p99 (seconds) and the error rate of all ``samples``."""
    seconds = [s.seconds for s in samples]
    errors = sum(not s.ok for s in samples)
    rate = errors / len(samples) if samples else 0.0
    return percentile(seconds, 0.5), percentile(seconds, 0.99), rate


def route_table(stats: list[RouteStats], window: float) -> list[str]:
    lines = [f"  {'route':<44} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"]
    for s in sorted(stats, key=lambda s: s.route):
        lines.append(
            f"  {s.route:<44} {s.count / window:7.1f} {s.p50 * 1000:8.0f} {s.p99 * 1000:8.0f}"
            f" {s.error_rate:7.1%}"
        )
    return lines


def failures(samples: Iterable[Sample], most: int = 10) -> list[str]:
    """What came instead of the expected answers, by route, the commonest first."""
    counted: dict[tuple[str, str], int] = {}
    for s in samples:
        if not s.ok:
            counted[(s.route, s.why)] = counted.get((s.route, s.why), 0) + 1
    ranked = sorted(counted.items(), key=lambda item: -item[1])[:most]
    return [f"  {route}: {why or '?'} × {n}" for (route, why), n in ranked]


def _problem(body: bytes) -> str:
    """A problem answer's code and the fields it names, to tell refusals apart."""
    try:
        problem = jsonlib.loads(body)
    except ValueError:
        return ""
    if not isinstance(problem, dict):
        return ""
    fields = [
        ":".join(str(e[k]) for k in ("field", "code") if e.get(k))
        for e in problem.get("errors", [])
        if isinstance(e, dict)
    ]
    code = str(problem.get("code", ""))
    return f" {code}" + (f" ({', '.join(fields)})" if fields else "") if code else ""


def _sent_a_reading(status: int, _: bytes) -> bool:
    # 201 accepted; 422 "unusual" would mean our values are off, and counts as an error.
    return status == 201


@dataclass
class Customer:
    """One simulated customer: the ``i``-th demo client, ``number``."""

    i: int
    number: str
    api: str
    portal: str
    http: aiohttp.ClientSession
    recorder: Recorder
    think: float
    rng: random.Random
    visits: int = 0
    cookie: str | None = None
    token: str | None = None
    meter: str | None = None
    last_value: Decimal | None = None
    _headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._headers = {"X-Forwarded-For": address(self.i)}

    async def run(self, stop: asyncio.Event) -> None:
        """Visit after visit until ``stop`` is set (the visit under way is left at once)."""
        visiting = asyncio.ensure_future(self._visits())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({visiting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        for task in (visiting, stopped):
            task.cancel()
        await asyncio.gather(visiting, stopped, return_exceptions=True)

    async def _visits(self) -> None:
        await asyncio.sleep(self.rng.uniform(0, self.think))  # customers do not arrive together
        while True:
            await self.visit()

    async def pause(self) -> None:
        await asyncio.sleep(self.think * self.rng.uniform(0.5, 1.5))

    async def visit(self) -> None:
        self.visits += 1
        if not await self._sign_in():
            await self.pause()
            return
        for step in (self._dashboard, self._invoices, self._balance, self._reading):
            await step()
            await self.pause()
        await self._call("GET", "/me/correspondence")
        await self.pause()
        if self.visits % LETTER_EVERY == 0:
            await self._call("POST", "/me/correspondence", json=LETTER, ok=201, idempotent=True)
            await self.pause()
        await self._portal("/pulpit")
        await self.pause()
        await self._portal("/faktury")
        await self.pause()
        await self._call(
            "DELETE",
            "/sessions/current",
            ok=204,
            route="DELETE /api/v1/sessions/current (sign-out)",
        )

    # -- the API ----------------------------------------------------------------------------
    async def _sign_in(self) -> bool:
        body = await self._call(
            "POST",
            "/sessions",
            json={"login": self.number, "password": PASSWORD},
            ok=201,
            authorised=False,
            route="POST /api/v1/sessions (sign-in)",
        )
        self.token = str(body["access_token"]) if isinstance(body, dict) else None
        return self.token is not None

    async def _dashboard(self) -> None:
        await self._call("GET", "/me/dashboard", judge=dashboard_judge)

    async def _invoices(self) -> None:
        await self._call("GET", "/me/invoices")

    async def _balance(self) -> None:
        await self._call("GET", "/me/balance")

    async def _reading(self) -> None:
        """The meter's history, then a reading a litre above the highest one shown."""
        if self.meter is None:
            meters = await self._call("GET", "/me/meters")
            items = meters.get("items", []) if isinstance(meters, dict) else []
            # A reading goes to a meter still installed, on a contract still in force (a few
            # demo clients' contracts have ended: readings after the end are refused).
            contracts = await self._call("GET", "/me/contracts")
            listed = contracts.get("items", []) if isinstance(contracts, dict) else []
            active = {c.get("contract_number") for c in listed if c.get("status") == "active"}
            installed = [
                m
                for m in items
                if m.get("status") == "installed" and m.get("contract_number") in active
            ]
            if not installed:
                return
            first = installed[0]
            self.meter = str(first["serial"])
            known = [first.get("initial_value"), (first.get("last_reading") or {}).get("value")]
            # A meter without any register yet (the demo data has none) starts from zero.
            self.last_value = max((Decimal(str(v)) for v in known if v), default=Decimal(0))
        path = f"/me/meters/{quote(self.meter, safe='')}/readings"
        route = "/me/meters/{serial}/readings"
        history = await self._call("GET", path, route=f"GET /api/v1{route}")
        if isinstance(history, dict):
            values = [Decimal(str(r["value"])) for r in history.get("items", [])]
            if values:
                self.last_value = max([*values, self.last_value or Decimal(0)])
        if self.last_value is None:
            return
        value = self.last_value + Decimal("0.001")
        await self.pause()
        answer = await self._call(
            "POST",
            path,
            json={"value": f"{value:.3f}", "read_on": time.strftime("%Y-%m-%d")},
            ok=201,
            idempotent=True,
            route=f"POST /api/v1{route}",
            judge=_sent_a_reading,
        )
        if answer is not None:
            self.last_value = value

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        ok: int = 200,
        authorised: bool = True,
        idempotent: bool = False,
        route: str | None = None,
        judge: Callable[[int, bytes], bool | str] | None = None,
    ) -> object:
        """The answer's JSON when it came as it should (``ok``, or as ``judge`` says), else
        None; recorded either way."""
        headers = dict(self._headers)
        if authorised:
            headers["Authorization"] = f"Bearer {self.token}"
        if idempotent:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        name = route or f"{method} /api/v1{path}"
        token = self.recorder.begin()
        good, body, why = False, b"", ""
        try:
            async with self.http.request(
                method, self.api + path, json=json, headers=headers
            ) as resp:
                body = await resp.read()
                verdict = judge(resp.status, body) if judge else resp.status == ok
                good = verdict is True or verdict == "ok"
                why = f"{resp.status} {verdict}" if isinstance(verdict, str) else str(resp.status)
                if not good and resp.status >= 400:
                    why += _problem(body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            good, why = False, type(exc).__name__
        self.recorder.end(token, name, good, why)
        if not good:
            return None
        try:
            return jsonlib.loads(body) if body else {}
        except ValueError:
            return None

    # -- the portal --------------------------------------------------------------------------
    async def _portal(self, page: str) -> None:
        if self.cookie is None:
            await self._timed("portal sign-in (form)", self._portal_sign_in())
            if self.cookie is None:
                return
        headers = {**self._headers, "Cookie": f"{PORTAL_COOKIE}={self.cookie}"}
        token = self.recorder.begin()
        good, why = False, ""
        try:
            async with self.http.get(
                self.portal + page, headers=headers, allow_redirects=False
            ) as resp:
                verdict = page_judge(resp.status, await resp.read())
                good, why = verdict == "ok", f"{resp.status} {verdict}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            good, why = False, type(exc).__name__
        self.recorder.end(token, f"GET {page} (portal)", good, why)

    async def _portal_sign_in(self) -> None:
        self.cookie = await portal_sign_in(self.portal, self.i, self.number)

    async def _timed(self, route: str, work: Awaitable[None]) -> None:
        token = self.recorder.begin()
        good, why = False, ""
        try:
            await asyncio.wait_for(work, REQUEST_TIMEOUT)
            good = True
        except (aiohttp.ClientError, TimeoutError, RuntimeError, StopIteration) as exc:
            good, why = False, f"{type(exc).__name__}: {exc}"[:120]
        self.recorder.end(token, route, good, why)


class Crowd:
    """Customers added as they are wanted, all sharing one HTTP client and one recorder."""

    def __init__(self, api: str, portal: str, numbers: list[str], think: float, seed: int) -> None:
        self.api, self.portal, self.numbers = api, portal, numbers
        self.think = think
        self.rng = random.Random(seed)
        self.recorder = Recorder()
        self.stop = asyncio.Event()
        self.customers: list[Customer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Crowd:
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
            cookie_jar=aiohttp.DummyCookieJar(),  # each customer's cookie goes by hand
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        self.stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    def grow_to(self, count: int) -> None:
        if count > len(self.numbers):
            raise ValueError(f"{count} customers wanted, {len(self.numbers)} accounts seeded")
        assert self._http is not None
        while len(self.customers) < count:
            i = len(self.customers)
            customer = Customer(
                i,
                self.numbers[i],
                self.api,
                self.portal,
                self._http,
                self.recorder,
                self.think,
                random.Random(self.rng.random()),
            )
            self.customers.append(customer)
            self._tasks.append(asyncio.create_task(customer.run(self.stop)))
