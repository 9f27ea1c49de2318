"""Bus test helpers: a test catalogue, a handler whose every effect is a row we can count,
consumers and relays built the way the service builds them, and cleanup of what a test
declared on the broker.

The ``applied`` table deliberately has no unique constraint on the event id: if an event's
effect ran twice, it shows up as two rows. Only the consumer's inbox stands in the way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
from aio_pika.abc import AbstractConnection, AbstractRobustConnection
from ebok_shared import db
from ebok_shared.bus import (
    Catalogue,
    Consumer,
    Event,
    Outbox,
    OutboxRelay,
    RetryPolicy,
    Subscription,
    Topology,
)
from ebok_shared.bus.catalogue import CATALOGUE_DIR
from ebok_shared.bus.consumer import Handler
from ebok_shared.logs import get_logger
from prometheus_client import REGISTRY

TEST_CATALOGUE_DIR = Path(__file__).resolve().parent.parent / "catalogue"
CATALOGUE = Catalogue([CATALOGUE_DIR, TEST_CATALOGUE_DIR])
INCREMENTED = "test.counter.incremented"
ECHOED = "test.counter.echoed"
PRODUCER = "test"  # both test event types go through the exchange <prefix>test.events
FAST_RETRY = RetryPolicy(delays=(0.2, 0.4))
OUTCOMES = ("applied", "duplicate", "retried", "dead_lettered")
# The relay's two ways to publish (ebok_shared.bus.fast_publish, or aio-pika's own): tests of
# the relay's reliability run with each (``@pytest.mark.parametrize("publish_path", …)``).
PUBLISH_PATHS = ("fast", "aio-pika")

APPLIED_TABLE = """
CREATE TABLE IF NOT EXISTS applied (
    seq        bigserial PRIMARY KEY,  -- the order effects were applied in
    event_id   uuid NOT NULL,          -- not unique on purpose: a repeated effect is a 2nd row
    event_type text NOT NULL,
    n          int NOT NULL,
    key        text,
    key_seq    int,
    batch      int,
    applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
)
"""

log = get_logger(__name__)


async def prepare_database(dsn: str) -> None:
    """The shared tables (outbox, inbox) and the test's ``applied`` table."""
    conn = await db.connect(dsn)
    try:
        await db.migrate(conn, [("shared", db.SHARED_MIGRATIONS)])
        await conn.execute(APPLIED_TABLE)
    finally:
        await conn.close()


async def record(conn: asyncpg.Connection, event: Event) -> None:
    """The effect of an event: one row, in the consumer's transaction."""
    p = event.payload
    await conn.execute(
        "INSERT INTO applied (event_id, event_type, n, key, key_seq, batch)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        event.id,
        event.type,
        p["n"],
        p.get("key"),
        p.get("seq"),
        p.get("batch"),
    )


async def record_many(conn: asyncpg.Connection, events: list[Event]) -> None:
    """The same effect for a run of events in one statement (a batched subscription)."""
    await conn.execute(
        "INSERT INTO applied (event_id, event_type, n, key, key_seq, batch)"
        " SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::int[],"
        " $6::int[])",
        [e.id for e in events],
        [e.type for e in events],
        [e.payload["n"] for e in events],
        [e.payload.get("key") for e in events],
        [e.payload.get("seq") for e in events],
        [e.payload.get("batch") for e in events],
    )


async def connect(amqp_url: str, name: str = "ebok-tests") -> AbstractRobustConnection:
    """A robust connection that retries quickly, so reconnect tests stay short."""
    return await aio_pika.connect_robust(
        amqp_url, reconnect_interval=0.2, client_properties={"connection_name": name}
    )


def consumer_queues(topology: Topology, name: str, retry: RetryPolicy) -> list[str]:
    tiers = [topology.retry_queue(name, t) for t in range(1, len(retry.delays) + 1)]
    return [topology.queue(name), *tiers, topology.dead_letter_queue(name)]


async def delete_bus_objects(
    connection: AbstractConnection, queues: Sequence[str], exchanges: Sequence[str]
) -> None:
    """Delete queues and exchanges whatever their state (aio-pika's defaults refuse a queue
    that is in use, and that refusal closes the channel)."""

    async def delete() -> None:
        channel = await connection.channel()
        try:
            for queue in queues:
                await channel.queue_delete(queue, if_unused=False, if_empty=False)
            for exchange in exchanges:
                await channel.exchange_delete(exchange, if_unused=False)
        finally:
            await channel.close()

    # Bounded: a clean-up must never hang a test run (the session's vhost goes anyway).
    try:
        await asyncio.wait_for(delete(), timeout=15)
    except TimeoutError:
        log.warning("bus clean-up timed out", queues=len(queues))


def consumed_total(consumer: str, event_type: str, outcome: str) -> float:
    """The consumer's own counter of events by outcome (process-wide, so tests take deltas)."""
    value = REGISTRY.get_sample_value(
        "ebok_events_consumed_total",
        {"consumer": consumer, "type": event_type, "outcome": outcome},
    )
    return value or 0.0


@dataclass
class BusSandbox:
    """One test's bus: its database pool, a broker connection, and everything it declared."""

    dsn: str
    amqp_url: str
    topology: Topology
    pool: asyncpg.Pool
    connection: AbstractRobustConnection
    publish_path: str = "fast"  # one of PUBLISH_PATHS: how this sandbox's relays publish
    outbox: Outbox = field(default_factory=lambda: Outbox(CATALOGUE))
    _consumers: list[Consumer] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _queues: set[str] = field(default_factory=set)
    _connections: list[AbstractRobustConnection] = field(default_factory=list)
    _on_close: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _baseline: dict[tuple[str, str, str], float] = field(default_factory=dict)

    async def connect(self, amqp_url: str, name: str = "ebok-tests") -> AbstractRobustConnection:
        """Another broker connection (e.g. through a proxy), closed with the sandbox."""
        connection = await connect(amqp_url, name)
        self._connections.append(connection)
        return connection

    def on_close(self, cleanup: Callable[[], Awaitable[None]]) -> None:
        """Run ``cleanup`` last, once consumers, relays and connections are stopped."""
        self._on_close.append(cleanup)

    def build_consumer(
        self,
        name: str = "counter",
        handlers: dict[str, Handler] | None = None,
        *,
        subscriptions: list[Subscription] | None = None,
        retry: RetryPolicy = FAST_RETRY,
        connection: AbstractRobustConnection | None = None,
        pool: asyncpg.Pool | None = None,
        **kwargs: Any,
    ) -> Consumer:
        handlers = handlers if handlers is not None else {INCREMENTED: record}
        consumer = Consumer(
            name,
            pool=pool or self.pool,
            connection=connection or self.connection,
            subscriptions=subscriptions or [Subscription(t, h) for t, h in handlers.items()],
            topology=self.topology,
            catalogue=CATALOGUE,
            retry=retry,
            **kwargs,
        )
        self._queues.update(consumer_queues(self.topology, name, retry))
        for event_type in handlers:
            for outcome in OUTCOMES:
                key = (name, event_type, outcome)
                self._baseline.setdefault(key, consumed_total(*key))
        return consumer

    async def consumer(self, name: str = "counter", **kwargs: Any) -> Consumer:
        """A started consumer, stopped when the sandbox closes."""
        return await self.start(self.build_consumer(name, **kwargs))

    async def start(self, consumer: Consumer) -> Consumer:
        """Start a consumer built here (e.g. after its queue was filled), stopped when the
        sandbox closes."""
        await consumer.start()
        self._consumers.append(consumer)
        return consumer

    def relay(
        self, connection: AbstractRobustConnection | None = None, **kwargs: Any
    ) -> CountingRelay:
        kwargs = {
            "poll_interval": 0.2,
            "retry_delay": 0.2,
            "fast_path": self.publish_path == "fast",
            **kwargs,
        }
        relay = CountingRelay(
            self.dsn, connection or self.connection, topology=self.topology, **kwargs
        )
        assert relay.fast_path == (self.publish_path == "fast"), "the fast path is unavailable"
        return relay

    async def publish_outbox(self) -> int:
        """One relay's rounds until the outbox is empty; how many events it published."""
        relay, conn = self.relay(), await db.connect(self.dsn)
        try:
            while await relay.publish_batch(conn):
                pass
        finally:
            await conn.close()
        return relay.published

    def run(self, job: Awaitable[None], name: str = "relay") -> asyncio.Task[None]:
        """Run a relay (or any loop) in the background until the sandbox closes."""
        task: asyncio.Task[None] = asyncio.ensure_future(job)
        task.set_name(name)
        self._tasks.append(task)
        return task

    def consumed(self, outcome: str, name: str = "counter", event_type: str = INCREMENTED) -> int:
        """How many events this sandbox's consumer ``name`` counted with ``outcome``."""
        key = (name, event_type, outcome)
        return int(consumed_total(*key) - self._baseline.get(key, 0.0))

    async def add(
        self,
        payloads: Sequence[dict[str, Any]],
        *,
        event_type: str = INCREMENTED,
        aggregate_key: Callable[[dict[str, Any]], str | None] = lambda _: None,
    ) -> list[Event]:
        """Commit events to the outbox in one transaction."""
        events = [Event.new(event_type, p) for p in payloads]
        async with self.pool.acquire() as conn, conn.transaction():
            await self.outbox.add_events(
                conn, [(e, aggregate_key(p)) for e, p in zip(events, payloads, strict=True)]
            )
        return events

    async def publish_raw(
        self,
        body: bytes,
        *,
        routing_key: str,
        exchange: str | None = None,
        message_id: str | None = None,
    ) -> None:
        """Put bytes on the broker as-is (to the producer exchange, or a queue by name with
        ``exchange=""``), with confirms."""
        channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
        try:
            target = (
                channel.default_exchange
                if exchange == ""
                else await channel.declare_exchange(
                    exchange or self.topology.exchange(PRODUCER),
                    aio_pika.ExchangeType.TOPIC,
                    durable=True,
                )
            )
            await target.publish(
                aio_pika.Message(
                    body,
                    message_id=message_id,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key,
                mandatory=True,
            )
        finally:
            await channel.close()

    async def applied_rows(self) -> list[asyncpg.Record]:
        return await self.pool.fetch("SELECT * FROM applied ORDER BY seq")

    async def outbox_size(self) -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM outbox"))

    async def queue_depth(self, queue: str) -> int:
        """Messages ready in ``queue`` (a passive declare; unacked ones are not counted)."""
        channel = await self.connection.channel()
        try:
            declared = await channel.declare_queue(queue, passive=True)
            return declared.declaration_result.message_count or 0
        finally:
            await channel.close()

    def track_queues(self, names: Sequence[str]) -> None:
        self._queues.update(names)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for consumer in self._consumers:
            await consumer.stop()
        with contextlib.suppress(Exception):
            await delete_bus_objects(
                self.connection, sorted(self._queues), [self.topology.exchange(PRODUCER)]
            )
        for connection in (*self._connections, self.connection):
            await connection.close()
        await self.pool.close()
        for cleanup in self._on_close:
            await cleanup()


class CountingRelay(OutboxRelay):
    """The real relay, counting what it published and what it held back for another replica
    (to show that every replica took part, and that their batches did overlap)."""

    published = 0
    held_back = 0
    batches = 0  # passes that published something

    async def publish_batch(self, conn: asyncpg.Connection) -> int:
        count = await super().publish_batch(conn)
        self.published += count
        self.batches += count > 0
        return count

    # a test double: the same call, a narrower signature than the base
    async def _without_rows_held_back(  # type: ignore[override]
        self, conn: asyncpg.Connection, rows: list[asyncpg.Record]
    ) -> list[asyncpg.Record]:
        kept = await OutboxRelay._without_rows_held_back(conn, rows)
        self.held_back += len(rows) - len(kept)
        return kept


@contextlib.asynccontextmanager
async def sandbox(
    dsn: str, amqp_url: str, prefix: str, publish_path: str = "fast"
) -> AsyncIterator[BusSandbox]:
    assert publish_path in PUBLISH_PATHS, publish_path
    await prepare_database(dsn)
    pool = await db.create_pool(dsn, min_size=1, max_size=6)
    connection = await connect(amqp_url)
    bus = BusSandbox(dsn, amqp_url, Topology(prefix), pool, connection, publish_path)
    try:
        yield bus
    finally:
        await bus.close()
