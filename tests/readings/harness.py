"""The readings service as its tests run it: the real app in this process on a real port,
against the test's own database and broker prefix, with a stand-in token issuer. Billing's
events are applied through the service's own handlers (or put on the broker, for the tests of
the consumer); everything readings publishes is also copied to a test queue (``tap``)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import asyncpg
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from aiohttp import ClientResponse, FormData
from aiohttp.test_utils import TestClient
from ebok_readings import events
from ebok_readings.app import SPEC, create_app
from ebok_readings.settings import ReadingsSettings
from ebok_shared.bus import Event, Outbox, RetryPolicy, Topology, default_catalogue
from ebok_shared.clock import LOCAL_TZ, clock
from ebok_shared.service import BUS, POOL, ServiceSpec

from tests.support.apps import serve
from tests.support.bus import consumer_queues, delete_bus_objects, wait_until
from tests.support.events import publish_event
from tests.support.tokens import Issuer

TODAY = dt.date(2026, 3, 10)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def freeze(day: dt.date = TODAY, hour: int = 10) -> None:
    """Move the one clock to ``day`` (local time)."""
    clock.freeze(dt.datetime(day.year, day.month, day.day, hour, tzinfo=LOCAL_TZ))


def settings_for(
    database: str, amqp_url: str, prefix: str, jwks_url: str, **overrides: Any
) -> ReadingsSettings:
    values: dict[str, Any] = {
        "database_url": database,
        "amqp_url": amqp_url,
        "bus_prefix": prefix,
        "jwks_url": jwks_url,
        "retry_delays": (0.2, 0.4),
        "shutdown_timeout": 5.0,
        "scheduler_enabled": False,
        **overrides,
    }
    return ReadingsSettings.from_env({}, **values)


@dataclass
class Tap:
    """Every event readings publishes, as it arrives on the broker (validated)."""

    received: list[Event] = field(default_factory=list)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            self.received.append(default_catalogue().parse(message.body))

    def of(self, event_type: str, **where: Any) -> list[Event]:
        return [
            e
            for e in self.received
            if e.type == event_type and all(e.payload.get(k) == v for k, v in where.items())
        ]

    async def wait_for(self, event_type: str, count: int = 1, **where: Any) -> list[Event]:
        await wait_until(
            lambda: len(self.of(event_type, **where)) >= count, f"{count} × {event_type} {where}"
        )
        return self.of(event_type, **where)


@dataclass
class Readings:
    client: TestClient
    settings: ReadingsSettings
    connection: AbstractRobustConnection
    issuer: Issuer
    tap: Tap

    @property
    def pool(self) -> asyncpg.Pool:
        return self.client.app[POOL]  # type: ignore[union-attr]

    @property
    def outbox(self) -> Outbox:
        return self.client.app[BUS].outbox  # type: ignore[union-attr]

    def customer(self, client_number: str = "100001") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.token(client_number)}"}

    def operator(self, subject: str = "op-1") -> dict[str, str]:
        token = self.issuer.token(subject, kind="operator", roles=["operator"])
        return {"Authorization": f"Bearer {token}"}

    async def apply(self, event_type: str, payload: dict[str, Any]) -> Event:
        """Apply a consumed event through readings' own handler, in one transaction (as the
        consumer does; the broker path has its own tests)."""
        event = Event.new(event_type, payload)
        default_catalogue().validate(event)
        handler = {s.event_type: s.handler for s in events.SUBSCRIPTIONS}[event_type]
        async with self.pool.acquire() as conn, conn.transaction():
            await handler(conn, event)
        return event

    async def conclude(
        self,
        contract: str = "U/100001/2024",
        client: str = "100001",
        concluded_on: dt.date = dt.date(2024, 1, 15),
        serials: Sequence[str] = ("WM-100001-1",),
    ) -> None:
        await self.apply(
            events.CONTRACT_CONCLUDED, contract_payload(contract, client, concluded_on, serials)
        )

    async def publish(self, event: Event) -> Event:
        """Put an event on its producer's exchange, as another service's relay does."""
        return await publish_event(self.connection, self.settings.bus_prefix, event)

    async def submit(
        self,
        serial: str = "WM-100001-1",
        value: str = "100.000",
        read_on: dt.date | str = TODAY,
        *,
        client: str = "100001",
        confirm: bool | None = None,
        photo: tuple[bytes, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> ClientResponse:
        day = read_on.isoformat() if isinstance(read_on, dt.date) else read_on
        all_headers = {**self.customer(client), **(headers or {})}
        url = f"/me/meters/{serial}/readings"
        if photo is None:
            body: dict[str, Any] = {"value": value, "read_on": day}
            if confirm is not None:
                body["confirm_unusual"] = confirm
            return await self.client.post(url, json=body, headers=all_headers)
        form = FormData()
        form.add_field("value", value)
        form.add_field("read_on", day)
        if confirm is not None:
            form.add_field("confirm_unusual", "true" if confirm else "false")
        form.add_field("photo", photo[0], filename=photo[1], content_type="image/png")
        return await self.client.post(url, data=form, headers=all_headers)

    async def feed(self, kind: str, body: str, content_type: str = "text/csv") -> ClientResponse:
        return await self.client.post(
            f"/operator/feed/{kind}",
            data=body.encode(),
            headers={**self.operator(), "Content-Type": content_type},
        )

    async def readings_of(self, serial: str) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT * FROM readings WHERE meter_serial = $1 ORDER BY read_on, submitted_at", serial
        )

    async def settled(self) -> None:
        """Wait until the relay has published everything committed so far."""
        await wait_until(
            lambda: self.pool.fetchval("SELECT count(*) = 0 FROM outbox"), "outbox drained"
        )


def contract_payload(
    contract: str, client: str, concluded_on: dt.date, serials: Sequence[str]
) -> dict[str, Any]:
    return {
        "contract_number": contract,
        "client_number": client,
        "concluded_on": concluded_on.isoformat(),
        "supply_address": {"street": "ul. Żelazna 12", "postal_code": "00-001", "city": "Warszawa"},
        "tariff_group": "G1",
        "meter_serials": list(serials),
    }


async def seed_history(
    readings: Readings,
    serial: str,
    points: Sequence[tuple[dt.date, str]],
    source: str = "inspector",
) -> None:
    """Readings the back office reported (the feed), so a meter has its own history."""
    lines = ["meter_serial,read_on,value,source"] + [
        f"{serial},{day.isoformat()},{value},{source}" for day, value in points
    ]
    response = await readings.feed("readings", "\n".join(lines) + "\n")
    assert response.status == 201, await response.text()


async def problem(response: ClientResponse, status: int) -> dict[str, Any]:
    """The problem document of a refused request (checked to be one)."""
    text = await response.text()
    assert response.status == status, text
    assert response.content_type == "application/problem+json", response.content_type
    body: dict[str, Any] = json.loads(text)
    assert body["status"] == status and body["detail"]
    return body


def fields_of(body: dict[str, Any]) -> dict[str, str]:
    return {e["field"]: e["reason"] for e in body.get("errors", [])}


@asynccontextmanager
async def running_readings(
    settings: ReadingsSettings,
    issuer: Issuer,
    *,
    spec: ServiceSpec = SPEC,
    prepare: Callable[[ReadingsSettings], ReadingsSettings] | None = None,
) -> AsyncIterator[Readings]:
    settings = dataclasses.replace(settings, jwks_url=issuer.jwks_url)
    if prepare is not None:
        settings = prepare(settings)
    topology = Topology(settings.bus_prefix)
    connection = await aio_pika.connect_robust(settings.amqp_url)
    tap = Tap()
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        topology.exchange("readings"), aio_pika.ExchangeType.TOPIC, durable=True
    )
    tap_queue = topology.queue(f"tap.{uuid.uuid4().hex[:8]}")
    queue = await channel.declare_queue(tap_queue, auto_delete=True)
    await queue.bind(exchange, routing_key="#")
    await queue.consume(tap.on_message)
    try:
        async with serve(create_app(settings, spec)) as client:
            yield Readings(client, settings, connection, issuer, tap)
    finally:
        await channel.close()
        queues = [
            *consumer_queues(topology, spec.name, RetryPolicy(delays=settings.retry_delays)),
            topology.backoffice_queue("readings"),
            tap_queue,
        ]
        exchanges = [topology.exchange(p) for p in ("readings", "billing", "auth")]
        await delete_bus_objects(connection, queues, exchanges)
        await connection.close()
        await asyncio.sleep(0)
