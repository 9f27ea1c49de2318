"""Idempotent consumers: inbox + handler effect in one transaction, ack after commit.

Messages are taken in small batches (one transaction per batch, so throughput does not pay a
commit per event). The event ids go into the inbox with ``ON CONFLICT DO NOTHING RETURNING``;
only newly recorded events reach their handler. If a handler raises, the batch is redone with
a savepoint per event so one failure does not undo its neighbours; the failed event goes to
a delayed retry tier (a queue whose TTL dead-letters back to this queue only), and after the
last attempt to ``<queue>.dlq`` with its error. A malformed message (not JSON, unknown type,
schema violation) goes to the dead-letter queue at once. Retry and dead-letter copies are
published with confirms before the original is acked, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import aio_pika
import asyncpg
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from ..clock import clock
from ..logs import get_logger
from ..metrics import EVENTS_CONSUMED, EVENTS_DEAD_LETTERED
from .catalogue import Catalogue, SchemaError, default_catalogue
from .envelope import Event
from .topology import Topology

log = get_logger(__name__)

Handler = Callable[[asyncpg.Connection, Event], Awaitable[None]]

ATTEMPT_HEADER = "x-ebok-attempt"
ERROR_HEADER = "x-ebok-error"


@dataclass(frozen=True)
class Subscription:
    """One line per event a service consumes: type, version, handler."""

    event_type: str
    handler: Handler
    version: int = 1


@dataclass(frozen=True)
class RetryPolicy:
    delays: tuple[float, ...] = (1.0, 10.0, 60.0)  # seconds before attempt 2, 3, 4
    delivery_limit: int = 20  # broker-side cap on redeliveries (crash loops), then DLQ

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1


def queue_arguments(dead_letter_queue: str, delivery_limit: int) -> dict[str, object]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": dead_letter_queue,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


class Consumer:
    def __init__(
        self,
        name: str,
        *,
        pool: asyncpg.Pool,
        connection: AbstractRobustConnection,
        subscriptions: Sequence[Subscription],
        topology: Topology,
        catalogue: Catalogue | None = None,
        retry: RetryPolicy = RetryPolicy(),
        prefetch: int = 256,
        batch_size: int = 128,
    ) -> None:
        self.name = name
        self.pool = pool
        self.connection = connection
        self.handlers = {(s.event_type, s.version): s.handler for s in subscriptions}
        self.topology = topology
        self.catalogue = catalogue or default_catalogue()
        self.retry = retry
        self.prefetch = prefetch
        self.batch_size = batch_size
        self.queue_name = topology.queue(name)
        self._inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._channel: AbstractChannel | None = None
        self._publish_channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._worker: asyncio.Task[None] | None = None
        self._busy = False

    async def declare(self) -> None:
        """Declare the queue, its retry tiers, its dead-letter queue and the bindings."""
        channel = await self.connection.channel()
        dlq = self.topology.dead_letter_queue(self.name)
        await channel.declare_queue(dlq, durable=True, arguments={"x-queue-type": "quorum"})
        for tier, delay in enumerate(self.retry.delays, start=1):
            await channel.declare_queue(
                self.topology.retry_queue(self.name, tier),
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-message-ttl": int(delay * 1000),
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": self.queue_name,
                    "x-dead-letter-strategy": "at-least-once",
                    "x-overflow": "reject-publish",
                },
            )
        queue = await channel.declare_queue(
            self.queue_name,
            durable=True,
            arguments=queue_arguments(dlq, self.retry.delivery_limit),
        )
        for event_type, _version in self.handlers:
            exchange = await channel.declare_exchange(
                self.topology.exchange_for(event_type), aio_pika.ExchangeType.TOPIC, durable=True
            )
            await queue.bind(exchange, routing_key=event_type)
        await channel.close()

    async def start(self) -> None:
        await self.declare()
        self._publish_channel = await self.connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        self._channel = await self.connection.channel()
        await self._channel.set_qos(prefetch_count=self.prefetch)
        self._queue = await self._channel.get_queue(self.queue_name, ensure=False)
        self._consumer_tag = await self._queue.consume(self._inbox.put)
        self._worker = asyncio.create_task(self._work(), name=f"consumer:{self.name}")

    async def stop(self) -> None:
        """Stop taking messages, finish the batch in hand, then close the channels."""
        if self._queue is not None and self._consumer_tag is not None:
            with contextlib.suppress(Exception):
                await self._queue.cancel(self._consumer_tag)
        if self._worker is not None:
            # Let the worker drain what was already delivered, then stop it.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained(), timeout=10)
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        for channel in (self._channel, self._publish_channel):
            if channel is not None:
                with contextlib.suppress(Exception):
                    await channel.close()

    async def _drained(self) -> None:
        while not self._inbox.empty() or self._busy:
            await asyncio.sleep(0.01)

    async def _work(self) -> None:
        while True:
            batch = [await self._inbox.get()]
            while len(batch) < self.batch_size and not self._inbox.empty():
                batch.append(self._inbox.get_nowait())
            self._busy = True
            try:
                await self._process(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Database or broker trouble: leave the batch unacked; the broker redelivers it.
                log.warning("batch failed; will be redelivered", error=repr(exc), size=len(batch))
                for message in batch:
                    with contextlib.suppress(Exception):
                        await message.nack(requeue=True)
                await asyncio.sleep(0.5)
            finally:
                self._busy = False

    async def _process(self, batch: list[AbstractIncomingMessage]) -> None:
        parsed: list[tuple[AbstractIncomingMessage, Event]] = []
        for message in batch:
            try:
                event = self.catalogue.parse(message.body)
                if (event.type, event.version) not in self.handlers:
                    raise SchemaError(f"{self.name} has no handler for {event.type} v{event.version}")
                parsed.append((message, event))
            except SchemaError as exc:
                await self._dead_letter(message, f"malformed: {exc}", reason="malformed")
                await message.ack()
        if not parsed:
            return
        try:
            outcomes = await self._apply(parsed, isolate=False)
        except _HandlerFailed:
            outcomes = await self._apply(parsed, isolate=True)
        for (message, event), outcome in zip(parsed, outcomes, strict=True):
            if isinstance(outcome, Exception):
                await self._retry_or_park(message, event, outcome)
            else:
                EVENTS_CONSUMED.labels(self.name, event.type, outcome).inc()
        # Everything in the batch is now committed, retried or parked; one ack covers it.
        await batch[-1].ack(multiple=True)

    async def _apply(
        self, parsed: list[tuple[AbstractIncomingMessage, Event]], *, isolate: bool
    ) -> list[str | Exception]:
        """Apply a batch in one transaction. With ``isolate`` each handler runs in a savepoint
        and a failure is returned in its place; without, the first failure undoes the batch."""
        outcomes: list[str | Exception] = []
        async with self.pool.acquire() as conn, conn.transaction():
            new_ids = {
                r["event_id"]
                for r in await conn.fetch(
                    "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::uuid[])"
                    " ON CONFLICT DO NOTHING RETURNING event_id",
                    self.name,
                    [event.id for _, event in parsed],
                )
            }
            for _message, event in parsed:
                if event.id not in new_ids:
                    outcomes.append("duplicate")
                    continue
                new_ids.discard(event.id)  # the same event twice in one batch: applied once
                handler = self.handlers[(event.type, event.version)]
                with structlog.contextvars.bound_contextvars(
                    correlation_id=event.correlation_id,
                    event_id=str(event.id),
                    event_type=event.type,
                ):
                    if isolate:
                        try:
                            async with conn.transaction():  # savepoint
                                await handler(conn, event)
                        except Exception as exc:
                            log.warning("handler failed", error=repr(exc))
                            await conn.execute(
                                "DELETE FROM inbox WHERE consumer = $1 AND event_id = $2",
                                self.name,
                                event.id,
                            )
                            outcomes.append(exc)
                            continue
                    else:
                        try:
                            await handler(conn, event)
                        except Exception as exc:
                            raise _HandlerFailed from exc
                    log.info("event handled")
                    outcomes.append("applied")
        return outcomes

    async def _retry_or_park(
        self, message: AbstractIncomingMessage, event: Event, error: Exception
    ) -> None:
        attempt = int((message.headers or {}).get(ATTEMPT_HEADER, 1))  # type: ignore[arg-type]
        if attempt >= self.retry.max_attempts:
            await self._dead_letter(message, f"{type(error).__name__}: {error}", reason="failed")
            EVENTS_CONSUMED.labels(self.name, event.type, "dead_lettered").inc()
            return
        await self._publish_copy(
            message,
            self.topology.retry_queue(self.name, attempt),
            {ATTEMPT_HEADER: attempt + 1, ERROR_HEADER: _short(error)},
        )
        EVENTS_CONSUMED.labels(self.name, event.type, "retried").inc()

    async def _dead_letter(self, message: AbstractIncomingMessage, error: str, *, reason: str) -> None:
        log.error("event dead-lettered", error=error, message_id=message.message_id)
        await self._publish_copy(
            message,
            self.topology.dead_letter_queue(self.name),
            {
                ERROR_HEADER: error[:2000],
                "x-ebok-queue": self.queue_name,
                "x-ebok-dead-lettered-at": clock.now().isoformat(),
            },
        )
        EVENTS_DEAD_LETTERED.labels(self.name, reason).inc()

    async def _publish_copy(
        self, message: AbstractIncomingMessage, queue: str, headers: dict[str, object]
    ) -> None:
        assert self._publish_channel is not None
        copy = aio_pika.Message(
            message.body,
            headers={**(message.headers or {}), **headers},  # type: ignore[dict-item]
            message_id=message.message_id,
            type=message.type,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await self._publish_channel.default_exchange.publish(copy, queue, mandatory=True)


class _HandlerFailed(Exception):
    pass


def _short(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:500]

