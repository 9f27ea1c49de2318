"""Issue 17: how the dashboard asks the services under load.

- Asks of one session for the same part at the same time share one call; asks of different
  clients never do, and an ask made after a change never joins a call from before it.
- A part's timeout counts the service's answer, not the gateway's own line for a connection.
- A service that hangs or is down still leaves its parts unavailable, and holds none of the
  connections the other services' parts need.

A gateway over real PostgreSQL, RabbitMQ and Redis in front of stand-in services whose
answers the test holds back and lets go (the services' own suites hold their answers to
their contracts)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from ebok_gateway import upstream
from ebok_gateway.admission import ADMISSION, Admission
from ebok_gateway.app import create_app
from ebok_gateway.breaker import Breaker
from ebok_gateway.coalesce import Coalescer
from ebok_gateway.dashboard import DASHBOARD
from ebok_gateway.live import LIVE
from ebok_gateway.upstream import Upstreams
from ebok_shared.http.problems import Problem
from ebok_shared.logs import correlation_id_var

from tests.gateway.conftest import _upstream, gateway_settings
from tests.support.apps import serve
from tests.support.tokens import Issuer, running_issuer
from tests.support.waiting import eventually

PATHS: tuple[str, ...] = ("/me", "/me/contracts", "/me/meters", "/me/balance", "/me/invoices")
PATHS += ("/me/e-invoice", "/me/correspondence", "/me/garden-meter-requests")
FRESH = {"Cache-Control": "no-cache"}
# The parts of one service are asked in one call (ebok_shared.http.batch): the calls a
# dashboard makes, each one a view can share; the stand-ins count each part it carries.
CALLS = len({p.service for p in DASHBOARD})
# One view put together at a time, and a budget that leaves room for waiting one's turn.
ONE_AT_A_TIME: dict[str, Any] = {"dashboard_views_at_once": 1, "dashboard_budget": 60.0}


@dataclass
class Gated:
    """A gateway whose stand-in services answer only once ``gate`` is open, each answer
    naming the token it was asked with."""

    client: TestClient
    issuer: Issuer
    gate: asyncio.Event
    calls: Counter[str]
    arrivals: list[str]

    @property
    def asks(self) -> Coalescer:
        return self.client.app[LIVE].views.asks

    @property
    def admission(self) -> Admission:
        return self.client.app[ADMISSION]

    def dashboard(self, subject: str, token: dict[str, str] | None = None) -> asyncio.Task[Any]:
        headers = {**(token or self.issuer.customer(subject)), **FRESH}

        async def get() -> Any:
            resp = await self.client.get("/api/v1/me/dashboard", headers=headers)
            assert resp.status == 200, await resp.text()
            return await resp.json()

        return asyncio.ensure_future(get())

    def total(self) -> int:
        return sum(self.calls.values())


@contextlib.asynccontextmanager
async def _gated(
    database: str,
    amqp_url: str,
    bus_prefix: str,
    *,
    held: Callable[[str], bool] = lambda _: True,
    **overrides: Any,
) -> AsyncIterator[Gated]:
    """A gateway over stand-ins holding back each call whose token ``held`` names until the
    gate opens; ``arrivals`` the token of each part asked, in the order the stand-ins got
    them."""
    gate = asyncio.Event()
    arrivals: list[str] = []

    async def hold(request: web.Request) -> web.Response:
        token = request.headers["Authorization"]
        arrivals.append(token)
        if held(token):
            await gate.wait()
        return web.json_response({"items": [], "asked_with": token})

    async with AsyncExitStack() as exits, running_issuer() as issuer:
        calls: Counter[str] = Counter()
        upstream = await _upstream(dict.fromkeys(PATHS, hold), calls)
        exits.push_async_callback(upstream.close)
        base = str(upstream.make_url("")).rstrip("/")
        urls = {f"{s}_url": base for s in ("auth", "billing", "readings", "correspondence")}
        # One stand-in host serves every service here: room for all the calls held at once,
        # and part timeouts far beyond how long the tests hold them.
        settings = gateway_settings(
            issuer,
            database,
            amqp_url,
            bus_prefix,
            **{
                "upstream_connections": 64,
                "dashboard_part_timeout": 30.0,
                "dashboard_budget": 30.0,
                **urls,
                **overrides,
            },
        )
        client = await exits.enter_async_context(serve(create_app(settings)))
        yield Gated(client, issuer, gate, calls, arrivals)
        gate.set()


@pytest.fixture
async def gated(database: str, amqp_url: str, bus_prefix: str) -> AsyncIterator[Gated]:
    async with _gated(database, amqp_url, bus_prefix) as gateway:
        yield gateway


def _asked_with(view: dict[str, Any]) -> set[str]:
    return {view[p.name]["data"]["asked_with"] for p in DASHBOARD}


async def _until(check: Callable[[], bool]) -> None:
    await eventually(check, within=20)  # a bound for a stuck test, not a speed requirement


async def test_asks_of_one_session_at_once_share_each_call(gated: Gated) -> None:
    token = gated.issuer.customer("123456")
    first = gated.dashboard("123456", token)
    await _until(lambda: gated.asks.waiting("123456") == CALLS)
    second = gated.dashboard("123456", token)
    await _until(lambda: gated.asks.waiting("123456") == 2 * CALLS)
    gated.gate.set()
    views = await asyncio.gather(first, second)
    assert gated.total() == len(DASHBOARD)  # each part asked once, for both
    for view in views:
        assert _asked_with(view) == {token["Authorization"]}
    assert gated.asks.waiting("123456") == 0  # nothing kept once answered


async def test_asks_of_different_clients_never_share_a_call(gated: Gated) -> None:
    tokens = {s: gated.issuer.customer(s) for s in ("123456", "654321")}
    asked = {s: gated.dashboard(s, t) for s, t in tokens.items()}
    await _until(lambda: gated.total() == 2 * len(DASHBOARD))
    gated.gate.set()
    for subject, task in asked.items():
        assert _asked_with(await task) == {tokens[subject]["Authorization"]}
    assert gated.total() == 2 * len(DASHBOARD)


async def test_two_sessions_of_one_client_do_not_share_a_call(gated: Gated) -> None:
    one, other = gated.issuer.customer("123456"), gated.issuer.customer("123456")
    assert one != other
    asked = [gated.dashboard("123456", one), gated.dashboard("123456", other)]
    await _until(lambda: gated.total() == 2 * len(DASHBOARD))
    gated.gate.set()
    first, second = await asyncio.gather(*asked)
    assert _asked_with(first) == {one["Authorization"]}
    assert _asked_with(second) == {other["Authorization"]}


async def test_an_ask_after_a_change_makes_calls_of_its_own(gated: Gated) -> None:
    token = gated.issuer.customer("123456")
    before = gated.dashboard("123456", token)
    await _until(lambda: gated.asks.waiting("123456") == CALLS)
    gated.client.app[LIVE].views.drop("123456")  # what any change of theirs does
    after = gated.dashboard("123456", token)
    await _until(lambda: gated.total() == 2 * len(DASHBOARD))
    gated.gate.set()
    for view in await asyncio.gather(before, after):
        assert _asked_with(view) == {token["Authorization"]}


async def test_views_beyond_the_bound_wait_their_turn_first_come_first_served(
    database: str, amqp_url: str, bus_prefix: str
) -> None:
    """One view at a time: the services are asked nothing for the second and third views
    while the first is being put together, and then each view's parts in the order the views
    were asked (no view overtakes another in any service's line)."""
    async with _gated(database, amqp_url, bus_prefix, **ONE_AT_A_TIME) as gated:
        subjects = ("100001", "100002", "100003")
        tokens = [gated.issuer.customer(s) for s in subjects]
        asked = []
        for subject, token in zip(subjects, tokens, strict=True):
            asked.append(gated.dashboard(subject, token))
            # the first one let in at once (its calls made), then each in line behind it
            await _until(
                lambda: (
                    gated.admission.in_line == len(asked) - 1 and gated.total() == len(DASHBOARD)
                )
            )
        assert [gated.admission.in_line, gated.total()] == [2, len(DASHBOARD)]
        gated.gate.set()
        views = await asyncio.gather(*asked)
    for view, token in zip(views, tokens, strict=True):
        assert _asked_with(view) == {token["Authorization"]}
    in_order = [t["Authorization"] for t in tokens for _ in DASHBOARD]
    assert gated.arrivals == in_order


async def test_a_view_waits_for_its_turn_no_longer_than_leaves_its_parts_their_timeout(
    database: str, amqp_url: str, bus_prefix: str
) -> None:
    """Three views ahead in line hang (each until its parts' timeout): the fourth waits for
    its turn only until what is left of its budget is its parts' timeout, then asks without
    a turn, and all its parts are there within the budget."""
    async with _gated(
        database,
        amqp_url,
        bus_prefix,
        held=lambda token: token != last["Authorization"],
        dashboard_views_at_once=1,
        dashboard_part_timeout=1.0,
        dashboard_budget=2.5,
    ) as gated:
        last = gated.issuer.customer("100004")
        ahead = [gated.dashboard(s) for s in ("100001", "100002", "100003")]
        await _until(lambda: gated.admission.in_line == 2)
        began = time.monotonic()
        view = await gated.dashboard("100004", last)
        took = time.monotonic() - began
        gated.gate.set()
        await asyncio.gather(*ahead)
    assert {view[p.name]["status"] for p in DASHBOARD} == {"ok"}
    # in line for the budget less the part timeout (the views ahead would take 3 s), then
    # asked; the budget bounds it all
    assert 1.5 - 0.1 <= took < 2.5
    assert gated.admission.overdue >= 1


async def test_an_ask_that_only_joins_calls_under_way_does_not_wait_for_a_turn(
    database: str, amqp_url: str, bus_prefix: str
) -> None:
    """A second ask of a session whose dashboard is being put together asks the services
    nothing new: it joins those calls at once, not after the view it would join."""
    async with _gated(database, amqp_url, bus_prefix, **ONE_AT_A_TIME) as gated:
        token = gated.issuer.customer("123456")
        first = gated.dashboard("123456", token)
        await _until(lambda: gated.asks.waiting("123456") == CALLS)
        second = gated.dashboard("123456", token)
        await _until(lambda: gated.asks.waiting("123456") == 2 * CALLS)
        assert gated.admission.in_line == 0
        gated.gate.set()
        for view in await asyncio.gather(first, second):
            assert _asked_with(view) == {token["Authorization"]}
    assert gated.total() == len(DASHBOARD)


async def test_a_call_nobody_waits_for_is_cancelled_and_never_joined() -> None:
    asks, started, cancelled = Coalescer(), asyncio.Event(), asyncio.Event()
    calls = 0

    async def call() -> str:
        nonlocal calls
        calls += 1
        started.set()
        try:
            await asyncio.Event().wait()  # never answers on its own
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    waiting = asyncio.ensure_future(asks.ask("123456", ("token", "profile"), call))
    await started.wait()
    waiting.cancel()  # e.g. the dashboard's budget ran out
    await cancelled.wait()
    assert asks.waiting("123456") == 0

    async def answer() -> str:
        return "fresh"

    assert await asks.ask("123456", ("token", "profile"), answer) == "fresh"
    assert calls == 1


async def test_calls_over_a_services_bound_reach_it_in_the_order_asked() -> None:
    """One connection to the service, and a new call asked at each turn of the event loop
    (requests coming in) while earlier ones wait: the service gets every call in the order
    it was asked, none overtaken by a later one (aiohttp's own line lets a call just made
    take a connection put back before the call woken for it runs)."""
    arrived: list[int] = []

    async def part(request: web.Request) -> web.Response:
        arrived.append(int(request.query["n"]))
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/n", part)
    async with TestServer(app, host="127.0.0.1") as server:
        session = upstream.session(1)
        try:
            calls = Upstreams(session, {"billing": str(server.make_url("")).rstrip("/")}, 10.0)
            asked = []
            for n in range(300):
                asked.append(asyncio.ensure_future(calls.call("billing", "GET", f"/n?n={n}")))
                await asyncio.sleep(0)
            await asyncio.gather(*asked)
        finally:
            await session.close()
    assert arrived == list(range(300))


async def test_the_views_calls_go_over_kept_connections_of_their_own() -> None:
    """``json`` and ``batch`` (every dashboard's calls) go over the service's lean lane
    (ebok_shared.http.lane): the caller's token and correlation id go along, at most the
    service's bound of connections are opened and kept, a part that does not answer within
    its timeout is a 504, and an answer the lane does not read (chunked) is asked through
    aiohttp with the same result."""
    peers: set[Any] = set()
    seen: list[web.Request] = []

    async def part(request: web.Request) -> web.StreamResponse:
        peers.add(request.transport)
        seen.append(request)
        if request.path == "/slow":
            await asyncio.sleep(1)
        if request.path == "/batch":
            parts = request.query.getall("part")
            return web.json_response({"parts": [{"status": 200, "body": p} for p in parts]})
        if request.path == "/chunked":
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            await response.write(b'{"items": [1]}')
            await response.write_eof()
            return response
        return web.json_response({"path": request.path, "query": dict(request.query)})

    app = web.Application()
    app.router.add_get("/{tail:.*}", part)
    async with TestServer(app, host="127.0.0.1") as server:
        session = upstream.session(2)
        calls = Upstreams(session, {"billing": str(server.make_url("")).rstrip("/")}, 10.0)
        token = correlation_id_var.set("cid-lane")
        try:
            answers = await asyncio.gather(
                *(calls.json("billing", f"/me/{n}", token="t", timeout=5) for n in range(20))
            )
            assert [a["path"] for a in answers] == [f"/me/{n}" for n in range(20)]
            batch = await calls.batch("billing", [("/me/a", ""), ("/me/b", "7")], "t", 5)
            assert len(peers) <= 2  # the line's bound, the connections kept
            assert all(r.headers["Authorization"] == "Bearer t" for r in seen)
            assert all(r.headers["X-Correlation-Id"] == "cid-lane" for r in seen)
            assert all("aiohttp" not in r.headers.get("User-Agent", "") for r in seen)
            assert batch == ["/me/a", "/me/b"]
            with pytest.raises(Problem) as slow:
                await calls.json("billing", "/slow", token="t", timeout=0.2)
            assert slow.value.status == 504
            assert await calls.json("billing", "/chunked", token="t", timeout=5) == {"items": [1]}
            assert "aiohttp" in seen[-1].headers.get("User-Agent", "")  # asked again by aiohttp
        finally:
            correlation_id_var.reset(token)
            calls.close()
            await session.close()


async def test_part_timeout_does_not_count_the_line_for_a_connection(
    database: str, amqp_url: str, bus_prefix: str
) -> None:
    """One connection per service: the parts of one service go one after another, together
    longer than a part's timeout, each well within it once asked."""
    answered: Counter[str] = Counter()

    async def unhurried(request: web.Request) -> web.Response:
        await asyncio.sleep(0.2)
        return web.json_response({"items": []})

    async with AsyncExitStack() as exits, running_issuer() as issuer:
        upstream = await _upstream(dict.fromkeys(PATHS, unhurried), answered)
        exits.push_async_callback(upstream.close)
        base = str(upstream.make_url("")).rstrip("/")
        urls = {f"{s}_url": base for s in ("auth", "billing", "readings", "correspondence")}
        settings = gateway_settings(
            issuer,
            database,
            amqp_url,
            bus_prefix,
            upstream_connections=1,
            dashboard_part_timeout=0.5,
            dashboard_budget=20.0,
            **urls,
        )
        client = await exits.enter_async_context(serve(create_app(settings)))
        resp = await client.get(
            "/api/v1/me/dashboard", headers={**issuer.customer("123456"), **FRESH}
        )
        view = await resp.json()
    assert {p.name: view[p.name]["status"] for p in DASHBOARD} == {p.name: "ok" for p in DASHBOARD}
    assert sum(answered.values()) == len(DASHBOARD)


async def test_a_hung_and_a_down_service_hold_no_connection_the_others_need(
    database: str, amqp_url: str, bus_prefix: str
) -> None:
    """Billing hangs, readings is down; with one connection per service auth's and
    correspondence's parts are still asked and answered, billing's and readings' are
    unavailable (each within the dashboard's budget)."""
    never = asyncio.Event()

    async def hung(_: web.Request) -> web.Response:
        await never.wait()
        return web.json_response({})

    async def fine(_: web.Request) -> web.Response:
        return web.json_response({"items": []})

    async with AsyncExitStack() as exits, running_issuer() as issuer:
        billing = await _upstream({"/{tail:.*}": hung}, Counter())
        others = await _upstream({"/{tail:.*}": fine}, Counter())
        for server in (billing, others):
            exits.push_async_callback(server.close)
        settings = gateway_settings(
            issuer,
            database,
            amqp_url,
            bus_prefix,
            upstream_connections=1,
            dashboard_part_timeout=0.3,
            dashboard_budget=1.0,
            auth_url=str(others.make_url("")).rstrip("/"),
            billing_url=str(billing.make_url("")).rstrip("/"),
            readings_url="http://127.0.0.1:9",  # nothing listens: down
            correspondence_url=str(others.make_url("")).rstrip("/"),
        )
        client = await exits.enter_async_context(serve(create_app(settings)))
        resp = await client.get(
            "/api/v1/me/dashboard", headers={**issuer.customer("123456"), **FRESH}
        )
        assert resp.status == 200
        view = await resp.json()
        never.set()
    status = {p.name: view[p.name]["status"] for p in DASHBOARD}
    by_service = {p.name: p.service for p in DASHBOARD}
    for name, state in status.items():
        expected = "unavailable" if by_service[name] in ("billing", "readings") else "ok"
        assert state == expected, (name, state)


async def test_a_failing_service_is_not_called_for_a_while_then_asked_again(
    database: str, amqp_url: str, bus_prefix: str
) -> None:
    """Billing answers 503 until it recovers: after a few failures in a row its parts are
    unavailable without a call; once it recovers, its parts are asked and shown again."""
    recovered = False
    billing_calls: Counter[str] = Counter()

    async def billing(_: web.Request) -> web.Response:
        if recovered:
            return web.json_response({"items": []})
        return web.json_response({}, status=503)

    async def fine(_: web.Request) -> web.Response:
        return web.json_response({"items": []})

    async with AsyncExitStack() as exits, running_issuer() as issuer:
        failing = await _upstream({"/{tail:.*}": billing}, billing_calls)
        others = await _upstream({"/{tail:.*}": fine}, Counter())
        for server in (failing, others):
            exits.push_async_callback(server.close)
        base = str(others.make_url("")).rstrip("/")
        settings = gateway_settings(
            issuer,
            database,
            amqp_url,
            bus_prefix,
            auth_url=base,
            billing_url=str(failing.make_url("")).rstrip("/"),
            readings_url=base,
            correspondence_url=base,
        )
        client = await exits.enter_async_context(serve(create_app(settings)))
        headers = {**issuer.customer("123456"), **FRESH}

        async def billing_parts() -> set[str]:
            resp = await client.get("/api/v1/me/dashboard", headers=headers)
            view = await resp.json()
            return {view[p.name]["status"] for p in DASHBOARD if p.service == "billing"}

        for _ in range(2):  # four billing parts each: five failures in a row and more
            assert await billing_parts() == {"unavailable"}
        calls_when_open = sum(billing_calls.values())
        assert await billing_parts() == {"unavailable"}
        assert sum(billing_calls.values()) == calls_when_open  # not called while taken as down
        recovered = True

        async def shown_again() -> bool:
            return await billing_parts() == {"ok"}

        await eventually(shown_again, within=20)  # after the breaker's cooldown


@pytest.mark.parametrize("batches", [True, False], ids=["batches", "an-older-release"])
async def test_the_parts_of_one_service_come_in_one_call(
    database: str, amqp_url: str, bus_prefix: str, batches: bool
) -> None:
    """Billing's four parts and readings' two each in one call (ebok_shared.http.batch), each
    part as its route answers it; a service of a release before batches (no ``/batch``) is
    asked part by part, and the view is the same."""
    calls: Counter[str] = Counter()
    requests: Counter[str] = Counter()

    async def part(request: web.Request) -> web.Response:
        return web.json_response({"items": [], "path": request.path})

    async with AsyncExitStack() as exits, running_issuer() as issuer:
        upstream = await _upstream(
            dict.fromkeys(PATHS, part), calls, batches=batches, requests=requests
        )
        exits.push_async_callback(upstream.close)
        base = str(upstream.make_url("")).rstrip("/")
        urls = {f"{s}_url": base for s in ("auth", "billing", "readings", "correspondence")}
        settings = gateway_settings(issuer, database, amqp_url, bus_prefix, **urls)
        client = await exits.enter_async_context(serve(create_app(settings)))
        resp = await client.get(
            "/api/v1/me/dashboard", headers={**issuer.customer("123456"), **FRESH}
        )
        view = await resp.json()
    for p in DASHBOARD:
        assert view[p.name] == {"status": "ok", "data": {"items": [], "path": p.path.split("?")[0]}}
    asked = Counter(p.path.split("?")[0] for p in DASHBOARD)
    if batches:
        assert calls == asked
        assert sum(requests.values()) == CALLS
        assert requests["/batch"] == 2  # billing's and readings'
    else:  # each service's first ask of a batch answers 404, then each part is asked
        assert calls == asked + Counter({"/batch": 2})
        assert requests["/batch"] == 2
        assert sum(requests.values()) == 2 + len(DASHBOARD)


def test_a_service_that_still_answers_now_and_then_is_never_taken_as_down() -> None:
    breaker = Breaker(threshold=5)
    for _ in range(20):  # under load: a part timing out here and there
        for _ in range(4):
            breaker.failed()
        breaker.answered()
        assert not breaker.is_open()
    for _ in range(5):
        breaker.failed()
    assert breaker.is_open()
