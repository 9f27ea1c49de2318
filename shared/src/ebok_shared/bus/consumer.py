"""Idempotent consumers: inbox + handler effect in one transaction, ack after commit.

Messages are taken in small batches (what has arrived, plus what comes within ``linger``; one
transaction and one ack per batch, so throughput does not pay a commit per event). The event
ids go into the inbox with ``ON CONFLICT DO NOTHING RETURNING``; only newly recorded events
reach their handler. If a handler raises, the batch is redone with
a savepoint per event so one failure does not undo its neighbours; the failed event goes to
a delayed retry tier (a queue whose TTL dead-letters back to this queue only), and after the
last attempt to ``<queue>.dlq`` with its error. A malformed message (not JSON, unknown type,
schema violation) goes to the dead-letter queue at once. Retry and dead-letter copies are
published with confirms before the original is acked, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass

import aio_pika
import aiormq
import asyncpg
import structlog
from aio_pika.abc import AbstractChannel, AbstractRobustChannel, AbstractRobustConnection
from aiormq.abc import DeliveredMessage

from .. import db
from ..clock import clock
from ..logs import correlation_id_var, get_logger
from ..metrics import EVENTS_CONSUMED, EVENTS_DEAD_LETTERED
from .catalogue import Catalogue, SchemaError, default_catalogue
from .envelope import Event
from .topology import Topology

log = get_logger(__name__)

Handler = Callable[[asyncpg.Connection, Event], Awaitable[None]]
BatchHandler = Callable[[asyncpg.Connection, list[Event]], Awaitable[None]]

ATTEMPT_HEADER = "x-ebok-attempt"
ERROR_HEADER = "x-ebok-error"


@dataclass(frozen=True)
class Subscription:
    """One line per event a service consumes: type, version, handler.

    With ``batched``, the handler takes a list: the consecutive new events of this type in a
    batch, in order, so a projection can apply them in one statement instead of one each."""

    event_type: str
    handler: Handler | BatchHandler
    version: int = 1
    batched: bool = False


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
        # A backlog is taken up to 256 events per transaction and ack, with the next batch
        # already delivered meanwhile: draining a queue then costs the consumer, its
        # PostgreSQL backend and the broker together about a sixth less CPU per event than at
        # 128 (prefetch 256); 512 (prefetch 1024) saved no more. A trickle still goes at
        # once (``linger``).
        prefetch: int = 512,
        batch_size: int = 256,
        linger: float = 0.005,  # seconds a batch waits to fill; bounds the added latency
    ) -> None:
        self.name = name
        self.pool = pool
        self.connection = connection
        self.handlers = {(s.event_type, s.version): s.handler for s in subscriptions}
        self.batched = {(s.event_type, s.version) for s in subscriptions if s.batched}
        self.topology = topology
        self.catalogue = catalogue or default_catalogue()
        self.retry = retry
        self.prefetch = prefetch
        self.batch_size = batch_size
        self.linger = linger
        self.queue_name = topology.queue(name)
        self._inbox: asyncio.Queue[DeliveredMessage] = asyncio.Queue()
        self._channel: AbstractRobustChannel | None = None
        self._publish_channel: AbstractChannel | None = None
        self._consuming: tuple[aiormq.abc.AbstractChannel, str] | None = None  # channel, tag
        self._resuming: asyncio.Task[None] | None = None
        self._stopping = False
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
        await self._channel.set_qos(prefetch_count=self.prefetch)  # restored on reopen
        # Consumed on the protocol channel: aio-pika's per-delivery message object and task
        # cost about a fifth of the consumer's CPU. The robust channel's restore therefore
        # does not bring this consumer back after a reconnect; _resume does.
        self._channel.reopen_callbacks.add(self._resume)
        await self._consume()
        self._worker = asyncio.create_task(self._work(), name=f"consumer:{self.name}")

    async def _consume(self) -> None:
        assert self._channel is not None
        channel = await self._channel.get_underlay_channel()
        if self._consuming is not None and self._consuming[0] is channel:
            return
        channel.on_consumer_cancel_callbacks.add(self._cancelled)
        ok = await channel.basic_consume(self.queue_name, self._deliver)
        assert ok.consumer_tag is not None
        self._consuming = (channel, ok.consumer_tag)

    async def _deliver(self, message: DeliveredMessage) -> None:
        self._inbox.put_nowait(message)

    def _resume(self, *_: object) -> None:
        """Consume again on the reopened channel (retrying until it works or we stop)."""
        if self._stopping or (self._resuming is not None and not self._resuming.done()):
            return
        self._resuming = asyncio.create_task(self._keep_consuming())

    async def _keep_consuming(self) -> None:
        while not self._stopping:
            try:
                await self._consume()
                return
            except Exception as exc:
                log.warning("could not consume again; retrying", error=repr(exc))
                await asyncio.sleep(1.0)

    def _cancelled(self, frame: aiormq.spec.Basic.Cancel) -> None:
        """The broker cancelled the consumer (e.g. its queue was deleted): consume again."""
        if self._consuming is not None and self._consuming[1] == frame.consumer_tag:
            self._consuming = None
            self._resume()

    async def stop(self) -> None:
        """Stop taking messages, finish the batch in hand, then close the channels."""
        self._stopping = True
        if self._channel is not None:
            self._channel.reopen_callbacks.discard(self._resume)
        if self._resuming is not None:
            self._resuming.cancel()
            await asyncio.wait({self._resuming}, timeout=5)
        # Every broker call here is bounded: a broker that vanished must not hold the exit.
        if self._consuming is not None:
            consuming, tag = self._consuming
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consuming.basic_cancel(tag), 5)
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
                    await asyncio.wait_for(channel.close(), 5)

    async def _drained(self) -> None:
        while not self._inbox.empty() or self._busy:  # noqa: ASYNC110 (a short wait at stop)
            await asyncio.sleep(0.01)

    async def _work(self) -> None:
        while True:
            batch = await self._next_batch()
            try:
                await self._settle(batch)
            finally:
                self._busy = False

    async def _settle(self, batch: list[DeliveredMessage]) -> None:
        """Process ``batch``; while the database is unreachable, hold it and try again.

        Held, not handed back: every return to the queue counts towards the message's
        delivery limit, which is there for messages that crash their consumer. A database
        restart of half a minute would otherwise send healthy events to the dead letters."""
        pause = 0.25
        while True:
            # Deliveries of a channel lost to a reconnect come again on the new one: drop
            # them here rather than apply them, fail to ack and stall.
            batch = [m for m in batch if _channel_open(m)]
            if not batch:
                return
            try:
                await self._process(batch)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if db.unreachable(exc) and not self._stopping:
                    pause = min(pause * 2, 5.0)
                    log.warning(
                        "database unreachable; holding the batch",
                        error=repr(exc),
                        size=len(batch),
                        retry_in=pause,
                    )
                    await asyncio.sleep(pause)
                    continue
                # Broker trouble (or stopping): leave it unacked; the broker redelivers it.
                log.warning("batch failed; will be redelivered", error=repr(exc), size=len(batch))
                for message in batch:
                    with contextlib.suppress(Exception):
                        await message.channel.basic_nack(_tag(message), requeue=True)
                await asyncio.sleep(0.5)
                return

    async def _next_batch(self) -> list[DeliveredMessage]:
        """The next message and whatever else arrives within ``linger`` (up to a batch): one
        transaction and one ack then cover many events instead of one each."""
        batch = [await self._inbox.get()]
        self._busy = True  # a batch in hand: stop() waits for it
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.linger
        while len(batch) < self.batch_size:
            if not self._inbox.empty():
                batch.append(self._inbox.get_nowait())
                continue
            if loop.time() >= deadline:
                break
            try:
                # A timeout scope, not wait_for: no task and no extra future per wait (one
                # per message while a batch lingers on a trickle of deliveries).
                async with asyncio.timeout_at(deadline):
                    batch.append(await self._inbox.get())
            except TimeoutError:
                break
        return batch

    async def _process(self, batch: list[DeliveredMessage]) -> None:
        parsed: list[tuple[DeliveredMessage, Event]] = []
        for message in batch:
            try:
                event = self.catalogue.parse(message.body)
                if (event.type, event.version) not in self.handlers:
                    raise SchemaError(
                        f"{self.name} has no handler for {event.type} v{event.version}"
                    )
                parsed.append((message, event))
            except SchemaError as exc:
                # Parked now; acked with the batch below (a message acked twice is an error).
                await self._dead_letter(message, f"malformed: {exc}", reason="malformed")
        if parsed:
            try:
                outcomes = await self._apply(parsed, isolate=False)
            except _HandlerFailed:
                outcomes = await self._apply(parsed, isolate=True)
            counted: Counter[tuple[str, str]] = Counter()  # one metric update per kind
            for (message, event), outcome in zip(parsed, outcomes, strict=True):
                if isinstance(outcome, Exception):
                    await self._retry_or_park(message, event, outcome)
                else:
                    counted[(event.type, outcome)] += 1
            for (event_type, outcome), count in counted.items():
                EVENTS_CONSUMED.labels(self.name, event_type, outcome).inc(count)
        # Everything in the batch is now committed, retried or parked; one ack covers it.
        last = batch[-1]
        await last.channel.basic_ack(_tag(last), multiple=True)

    async def _apply(
        self, parsed: list[tuple[DeliveredMessage, Event]], *, isolate: bool
    ) -> list[str | Exception]:
        """Apply a batch in one transaction. With ``isolate`` each event's handler runs in a
        savepoint and a failure is returned in its place; without, the first failure undoes
        the batch (and the caller redoes it isolated)."""
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
            outcomes: list[str | Exception] = []
            to_apply: list[tuple[int, Event]] = []
            for index, (_message, event) in enumerate(parsed):
                if event.id in new_ids:
                    new_ids.discard(event.id)  # the same event twice in one batch: applied once
                    to_apply.append((index, event))
                    outcomes.append("applied")
                else:
                    outcomes.append("duplicate")
            for group in self._groups(to_apply, isolate):
                error = await self._run(conn, [event for _, event in group], isolate)
                if error is not None:
                    outcomes[group[0][0]] = error
        return outcomes

    def _groups(
        self, to_apply: list[tuple[int, Event]], isolate: bool
    ) -> Iterator[list[tuple[int, Event]]]:
        """Runs of consecutive events of one batched type go together; everything else (and
        everything when isolating a failure) alone."""
        group: list[tuple[int, Event]] = []
        for item in to_apply:
            key = (item[1].type, item[1].version)
            if (
                group
                and not isolate
                and key in self.batched
                and key
                == (
                    group[0][1].type,
                    group[0][1].version,
                )
            ):
                group.append(item)
                continue
            if group:
                yield group
            group = [item]
        if group:
            yield group

    async def _run(
        self, conn: asyncpg.Connection, events: list[Event], isolate: bool
    ) -> Exception | None:
        """One handler call; with ``isolate``, in a savepoint, returning its failure."""
        first = events[0]
        key = (first.type, first.version)
        handler = self.handlers[key]
        with (
            _correlated(first),
            structlog.contextvars.bound_contextvars(
                correlation_id=first.correlation_id,
                event_id=str(first.id),
                event_type=first.type,
            ),
        ):
            # the handler's type is chosen by `batched` at runtime; a Union cannot say so
            call = handler(conn, events if key in self.batched else first)  # type: ignore[arg-type]
            if not isolate:
                try:
                    await call
                except Exception as exc:
                    raise _HandlerFailed from exc
                log.debug("event handled", count=len(events))  # debug: the hot path stays lean
                return None
            try:
                async with conn.transaction():  # savepoint
                    await call
            except Exception as exc:
                log.warning("handler failed", error=repr(exc))
                await conn.execute(
                    "DELETE FROM inbox WHERE consumer = $1 AND event_id = $2", self.name, first.id
                )
                return exc
            log.debug("event handled")
            return None

    async def _retry_or_park(
        self, message: DeliveredMessage, event: Event, error: Exception
    ) -> None:
        headers = message.header.properties.headers or {}
        # AMQP header values are typed as a wide union; ours is always an int
        attempt = int(headers.get(ATTEMPT_HEADER, 1))  # type: ignore[arg-type]
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

    async def _dead_letter(self, message: DeliveredMessage, error: str, *, reason: str) -> None:
        log.error(
            "event dead-lettered", error=error, message_id=message.header.properties.message_id
        )
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
        self, message: DeliveredMessage, queue: str, headers: dict[str, object]
    ) -> None:
        assert self._publish_channel is not None
        properties = message.header.properties
        copy = aio_pika.Message(
            message.body,
            # aio-pika's header value union is narrower than what it delivers to us
            headers={**(properties.headers or {}), **headers},  # type: ignore[dict-item]
            message_id=properties.message_id,
            type=properties.message_type,
            content_type=properties.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await self._publish_channel.default_exchange.publish(copy, queue, mandatory=True)


@contextlib.contextmanager
def _correlated(event: Event) -> Iterator[None]:
    """Events the handler raises (``Event.new``) carry the correlation id of the one handled."""
    token = correlation_id_var.set(event.correlation_id)
    try:
        yield
    finally:
        correlation_id_var.reset(token)


def _channel_open(message: DeliveredMessage) -> bool:
    return not message.channel.is_closed


def _tag(message: DeliveredMessage) -> int:
    tag = message.delivery_tag
    assert tag is not None  # every delivery has one
    return tag


class _HandlerFailed(Exception):
    pass


def _short(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:500]


async def prune_inbox(pool: asyncpg.Pool, days: int = 14) -> None:
    """Forget handled event ids long after any redelivery could come."""
    await pool.execute(
        "DELETE FROM inbox WHERE handled_at < now() - make_interval(days => $1)", days
    )
