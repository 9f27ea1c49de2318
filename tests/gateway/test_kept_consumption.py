"""Issue 12: the customer's consumption (asked with every dashboard page) kept by each gateway
replica with the client's dashboard parts: served again until something about that client
changes — their own reading through any replica, an event naming them (an operator's
decision, a back-office feed) — and never across clients, queries or the portal's switches.

A gateway (two replicas) over real PostgreSQL, RabbitMQ and Redis in front of a stand-in
readings that counts its calls and answers each client from its own state."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from ebok_gateway.app import create_app
from ebok_gateway.proxy import MAX_KEPT_QUERIES
from ebok_gateway.routes import Route
from ebok_shared.bus import Event, default_catalogue

from tests.gateway.conftest import _upstream, gateway_settings
from tests.support.apps import serve
from tests.support.events import publish_event
from tests.support.tokens import Issuer, running_issuer
from tests.support.waiting import eventually

CONSUMPTION = "/api/v1/me/consumption"
DASHBOARD = "/api/v1/me/dashboard"
WITH_CONSUMPTION = "?include=consumption"
MINE, THEIRS = "123456", "654321"


def _client(request: web.Request) -> str:
    token = request.headers["Authorization"].partition(" ")[2]
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


@dataclass
class Readings:
    """The stand-in's state: readings accepted per client (what consumption is made of)."""

    accepted: Counter[str] = field(default_factory=Counter)
    hold: asyncio.Event | None = None  # set: consumption answers only once it is released
    asked: asyncio.Event = field(default_factory=asyncio.Event)
    down: bool = False  # set: consumption answers 503 (readings failing)


@dataclass
class Stack:
    replicas: list[TestClient]
    issuer: Issuer
    readings: Readings
    calls: Counter[str]
    amqp: aio_pika.abc.AbstractConnection
    bus_prefix: str

    async def consumption(
        self,
        client: str = MINE,
        query: str = "",
        replica: int = 0,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        resp = await self.replicas[replica].get(
            CONSUMPTION + query, headers={**self.issuer.customer(client), **(headers or {})}
        )
        assert resp.status == 200, await resp.text()
        # resp.json() is Any: the answer is a JSON object
        return await resp.json()  # type: ignore[no-any-return]

    async def dashboard(self, client: str = MINE, query: str = "") -> dict[str, Any]:
        resp = await self.replicas[0].get(DASHBOARD + query, headers=self.issuer.customer(client))
        assert resp.status == 200, await resp.text()
        # resp.json() is Any: the answer is a JSON object
        return await resp.json()  # type: ignore[no-any-return]

    @property
    def asked(self) -> int:
        return self.calls["/me/consumption"]


@pytest.fixture
async def stack(database: str, amqp_url: str, bus_prefix: str) -> AsyncIterator[Stack]:
    readings = Readings()

    async def consumption(request: web.Request) -> web.Response:
        client = _client(request)
        answer: dict[str, Any] = {"client": client, "query": request.query_string}
        answer["readings"] = readings.accepted[client]  # read now, answered maybe later
        readings.asked.set()
        if readings.down:
            return web.json_response({"status": 503, "title": "x"}, status=503)
        if readings.hold is not None:
            await readings.hold.wait()
        return web.json_response(answer)

    async def submit(request: web.Request) -> web.Response:
        readings.accepted[_client(request)] += 1
        return web.json_response({"status": "accepted"}, status=201)

    calls: Counter[str] = Counter()
    async with AsyncExitStack() as exits, running_issuer() as issuer:
        upstream = await _upstream(
            {"/me/consumption": consumption, "/me/meters/{serial}/readings": submit}, calls
        )
        exits.push_async_callback(upstream.close)
        base = str(upstream.make_url("")).rstrip("/")
        settings = gateway_settings(issuer, database, amqp_url, bus_prefix, upstream=base)
        replicas = [await exits.enter_async_context(serve(create_app(settings))) for _ in range(2)]
        amqp = await aio_pika.connect(amqp_url)
        exits.push_async_callback(amqp.close)
        yield Stack(replicas, issuer, readings, calls, amqp, bus_prefix)


def _accepted(client: str) -> Event:
    """As readings publishes it for an operator's acceptance or a back-office feed reading."""
    schema = default_catalogue().schemas[("readings.reading.accepted", 1)]
    return Event.new(
        "readings.reading.accepted", {**schema["examples"][0], "client_number": client}
    )


async def test_the_second_ask_is_answered_without_readings(stack: Stack) -> None:
    first = await stack.consumption()
    second = await stack.consumption()
    assert first == second == {"client": MINE, "query": "", "readings": 0}
    assert stack.asked == 1
    await stack.consumption(
        headers={"Cache-Control": "no-cache"}
    )  # asks readings, as the dashboard
    assert stack.asked == 2


async def test_clients_never_see_each_others_consumption(stack: Stack) -> None:
    mine = await stack.consumption(MINE)
    theirs = await stack.consumption(THEIRS)
    assert mine["client"] == MINE and theirs["client"] == THEIRS
    assert stack.asked == 2
    assert await stack.consumption(THEIRS) == theirs
    assert await stack.consumption(MINE) == mine
    assert stack.asked == 2


async def test_each_query_is_its_own_answer(stack: Stack) -> None:
    default = await stack.consumption()
    year = await stack.consumption(query="?from=2025-04&to=2026-03")
    two = await stack.consumption(query="?from=2024-04&to=2026-03")
    assert [default["query"], year["query"], two["query"]] == [
        "",
        "from=2025-04&to=2026-03",
        "from=2024-04&to=2026-03",
    ]
    assert stack.asked == 3
    assert await stack.consumption(query="?from=2025-04&to=2026-03") == year
    assert await stack.consumption() == default
    assert stack.asked == 3


async def test_only_a_few_queries_are_kept_per_client(stack: Stack) -> None:
    queries = [f"?from=2025-{m:02d}" for m in range(1, MAX_KEPT_QUERIES + 2)]
    for query in queries:
        await stack.consumption(query=query)
    asked = stack.asked
    for query in queries[:MAX_KEPT_QUERIES]:
        await stack.consumption(query=query)
    assert stack.asked == asked  # kept
    await stack.consumption(query=queries[-1])
    assert stack.asked == asked + 1  # one more than kept: asked every time


async def test_a_reading_through_the_gateway_shows_at_once_on_every_replica(stack: Stack) -> None:
    for replica in (0, 1):
        assert (await stack.consumption(replica=replica))["readings"] == 0
    resp = await stack.replicas[0].post(
        "/api/v1/me/meters/WM-1/readings",
        headers=stack.issuer.customer(MINE),
        json={"value": "12.5", "read_on": "2026-03-15"},
    )
    assert resp.status == 201
    assert (await stack.consumption(replica=0))["readings"] == 1  # at once, here

    async def shown_on_the_other() -> bool:
        return (await stack.consumption(replica=1))["readings"] == 1

    await eventually(shown_on_the_other, within=1.0, step=0.02)


async def test_an_event_from_readings_drops_the_clients_consumption(stack: Stack) -> None:
    for replica in (0, 1):
        await stack.consumption(MINE, replica=replica)
        await stack.consumption(THEIRS, replica=replica)
    stack.readings.accepted[MINE] += 1  # an operator accepts a reading (or the feed brings one)
    assert (await stack.consumption(MINE))["readings"] == 0  # kept: nothing said so yet
    await publish_event(stack.amqp, stack.bus_prefix, _accepted(MINE))
    for replica in (0, 1):

        async def shown(r: int = replica) -> bool:
            return (await stack.consumption(MINE, replica=r))["readings"] == 1

        await eventually(shown, within=1.0, step=0.02)
    asked = stack.asked
    for replica in (0, 1):
        await stack.consumption(THEIRS, replica=replica)
    assert stack.asked == asked  # the other client's stayed


async def test_an_ask_under_way_during_a_reading_keeps_nothing(stack: Stack) -> None:
    """Readings answered before the reading; the answer arrives after it: not kept."""
    stack.readings.hold = asyncio.Event()
    early = asyncio.create_task(stack.consumption())
    await stack.readings.asked.wait()
    resp = await stack.replicas[0].post(
        "/api/v1/me/meters/WM-1/readings",
        headers=stack.issuer.customer(MINE),
        json={"value": "12.5", "read_on": "2026-03-15"},
    )
    assert resp.status == 201
    stack.readings.hold.set()
    assert (await early)["readings"] == 0
    assert (await stack.consumption())["readings"] == 1
    assert stack.asked == 2


async def test_a_suspended_section_is_not_served_from_memory(stack: Stack) -> None:
    await stack.consumption(replica=1)
    resp = await stack.replicas[0].put(
        "/api/v1/operator/portal-settings/sections/readings",
        headers=stack.issuer.operator(),
        json={"mode": "off", "message": "Przerwa techniczna."},
    )
    assert resp.status == 200, await resp.text()

    async def suspended() -> bool:
        resp = await stack.replicas[1].get(CONSUMPTION, headers=stack.issuer.customer(MINE))
        return resp.status == 503

    await eventually(suspended, within=1.0, step=0.02)


def test_only_a_customers_plain_get_can_be_kept() -> None:
    with pytest.raises(ValueError):
        Route("POST", "/me/consumption", "readings", "customer", "x", kept=True)
    with pytest.raises(ValueError):
        Route("GET", "/me/invoices", "billing", "customer", "x", list_key="n", kept=True)


# -- the dashboard's consumption part (the portal's chart: one call for the whole page) --------


async def test_the_dashboard_brings_the_consumption_only_when_asked(stack: Stack) -> None:
    plain = await stack.dashboard()
    assert "consumption" not in plain and "balance" in plain
    assert stack.asked == 0
    view = await stack.dashboard(query=WITH_CONSUMPTION)
    assert view["consumption"] == {
        "status": "ok",
        "data": {"client": MINE, "query": "", "readings": 0},
    }
    assert set(plain) < set(view)  # every other part as well
    theirs = await stack.dashboard(THEIRS, WITH_CONSUMPTION)
    assert theirs["consumption"]["data"]["client"] == THEIRS
    assert stack.asked == 2
    assert (await stack.dashboard(query=WITH_CONSUMPTION))["consumption"] == view["consumption"]
    assert stack.asked == 2  # kept with the client's other parts


async def test_an_event_from_readings_drops_the_dashboards_consumption(stack: Stack) -> None:
    await stack.dashboard(query=WITH_CONSUMPTION)
    stack.readings.accepted[MINE] += 1
    await publish_event(stack.amqp, stack.bus_prefix, _accepted(MINE))

    async def shown() -> bool:
        view = await stack.dashboard(query=WITH_CONSUMPTION)
        return bool(view["consumption"]["data"]["readings"] == 1)

    await eventually(shown, within=1.0, step=0.02)


async def test_readings_failing_leaves_the_consumption_part_unavailable(stack: Stack) -> None:
    stack.readings.down = True
    view = await stack.dashboard(query=WITH_CONSUMPTION)
    assert view["consumption"]["status"] == "unavailable", view
    assert view["profile"]["status"] != "unavailable"  # the rest of the view is there
    stack.readings.down = False
    again = await stack.dashboard(query=WITH_CONSUMPTION)  # not kept while it failed
    assert again["consumption"]["status"] == "ok", again


async def test_an_unknown_part_asked_for_is_refused(stack: Stack) -> None:
    resp = await stack.replicas[0].get(
        DASHBOARD + "?include=invoices", headers=stack.issuer.customer(MINE)
    )
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["errors"][0]["field"] == "include"
