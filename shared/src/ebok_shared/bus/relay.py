"""The outbox relay: publishes committed outbox rows to the broker, then deletes them.

Safe with several replicas: each claims a batch with ``FOR UPDATE SKIP LOCKED``. Within a
batch, events go out in id order on a confirm channel (``mandatory`` + ``on_return_raises``,
so an event that no queue takes is an error, never silently dropped); the batch is deleted
only after the broker confirmed it. A crash between publish and delete publishes the batch
again: consumers' inboxes make that harmless. Rows of an aggregate whose earlier row is held
by another relay wait for it, which keeps per-aggregate order across replicas.

Two ways to publish a batch, chosen when the relay is built: the fast path
(:mod:`.fast_publish`: all the batch's frames in one write, below aio-pika), when the installed
aiormq has the internals it relies on; otherwise aio-pika's ordinary publishing, one message and
its confirm at a time. Both publish every event of the batch and report each one's outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any, NoReturn, cast

import aio_pika
import aiormq
import asyncpg
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection

from .. import loops
from ..logs import get_logger
from ..metrics import EVENTS_PUBLISHED
from . import fast_publish
from .fast_publish import Message
from .outbox import NOTIFY_CHANNEL
from .topology import Topology

log = get_logger(__name__)

RELAY_LOOP = "outbox-relay"  # the loop's name in logs, and its connection's application_name
# The longest pause between attempts while the database or the broker is away: short, since
# the outbox waits meanwhile and an attempt costs little.
_RETRY_MAX = 5.0
# The least time between the starts of two passes. Every commit that adds events wakes the
# relay; under a steady stream of commits (readings submitted one after another) each woke a
# pass of its own: a claim, a publish and its confirm, a delete and a commit, for one event or
# two. Passes spaced this far apart publish what the interval brought as one batch. A pass
# after a quiet spell starts at once, so an event's latency grows by at most this, and only
# while the relay is busy. 50 ms, not 10: at 900 readings a second a pass then carries ~45
# events instead of ~9, and the relay's CPU per event halved (139 -> 66-72 µs, bench/
# readings.py), CPU the request path shares the machine with.
SETTLE = 0.05

_CLAIM = """
SELECT id, event_id::text, event_type, aggregate_key, body FROM outbox
ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
"""
# For the aggregates in our batch: the lowest id of a row someone else holds.
_HELD_ELSEWHERE = """
SELECT aggregate_key, min(id) AS first_id FROM outbox
WHERE aggregate_key = ANY($1::text[]) AND NOT (id = ANY($2::bigint[])) AND id < $3
GROUP BY aggregate_key
"""


class OutboxRelay:
    def __init__(
        self,
        dsn: str,
        connection: AbstractRobustConnection,
        *,
        topology: Topology,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        retry_delay: float = 1.0,
        fast_path: bool = True,
        settle: float = SETTLE,
    ) -> None:
        """``fast_path=False`` forces aio-pika's ordinary publishing even where the fast path
        would work (tests run the relay both ways). ``settle``: the least time between the
        starts of two passes (``SETTLE``)."""
        self.dsn = dsn
        self.connection = connection
        self.topology = topology
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.retry_delay = retry_delay
        self.settle = settle
        self._last_pass = float("-inf")
        self._channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self.fast_path = fast_path and choose_fast_path()

    async def run(self) -> NoReturn:
        """Publish until cancelled, woken by each commit that adds outbox rows (``NOTIFY``)
        and every ``poll_interval`` seconds besides, its passes ``settle`` apart; reconnects to
        the database (also when the server ends the LISTEN connection) and the broker by
        itself."""
        log.info("outbox relay started", publishing="fast" if self.fast_path else "aio-pika")
        await loops.listen_on(
            RELAY_LOOP,
            self.dsn,
            [NOTIFY_CHANNEL],
            self._drain,
            timeout=self.poll_interval,
            reconnect_first=self.retry_delay,
            reconnect_max=max(self.retry_delay, _RETRY_MAX),
        )

    async def _drain(self, conn: asyncpg.Connection) -> None:
        """Batches until the outbox has less than a full one; a failure drops the broker
        channel (the loop logs it and tries again after a pause). Starts ``settle`` seconds
        after the previous pass started at the earliest."""
        loop = asyncio.get_running_loop()
        wait = self._last_pass + self.settle - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_pass = loop.time()
        try:
            while await self.publish_batch(conn) >= self.batch_size:
                pass
        except Exception:
            await self._close_channel()
            raise

    async def _confirm_channel(self, event_types: set[str]) -> AbstractChannel:
        """The confirm channel (opened on first use or after a failure), with the exchanges
        of ``event_types`` declared."""
        if self._channel is None or self._channel.is_closed:
            self._channel = await self.connection.channel(
                publisher_confirms=True, on_return_raises=True
            )
            self._exchanges.clear()
        for event_type in event_types:
            name = self.topology.exchange_for(event_type)
            if name not in self._exchanges:
                self._exchanges[name] = await self._channel.declare_exchange(
                    name, aio_pika.ExchangeType.TOPIC, durable=True
                )
        return self._channel

    async def _close_channel(self) -> None:
        """Drop the channel after a failure (a robust connection would otherwise keep
        restoring an abandoned channel for as long as it lives)."""
        channel, self._channel = self._channel, None
        if channel is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(channel.close(), 2)

    async def publish_batch(self, conn: asyncpg.Connection) -> int:
        """Claim, publish and delete one batch; returns how many rows were published."""
        async with conn.transaction():
            rows = await conn.fetch(_CLAIM, self.batch_size)
            if not rows:
                return 0
            rows = await self._without_rows_held_back(conn, rows)
            types = {r["event_type"]: self.topology.exchange_for(r["event_type"]) for r in rows}
            channel = await self._confirm_channel(set(types))
            results = await self._publish(
                channel, [Message(types[t], t, event_id, body) for _, event_id, t, _, body in rows]
            )
            done = []
            published: Counter[str] = Counter()
            for row, result in zip(rows, results, strict=True):
                if isinstance(result, BaseException) and row["event_type"] in BEST_EFFORT:
                    log.warning(
                        "best-effort event not taken; dropped",
                        event_type=row["event_type"],
                        event_id=str(row["event_id"]),
                        error=repr(result),
                    )
                    done.append(row["id"])
                    continue
                if isinstance(result, BaseException):
                    # Stop at the first failure: later rows stay for the next round, in order.
                    log.error(
                        "publish failed",
                        event_type=row["event_type"],
                        event_id=str(row["event_id"]),
                        error=repr(result),
                    )
                    break
                done.append(row["id"])
                published[row["event_type"]] += 1
            await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", done)
        for event_type, count in published.items():
            EVENTS_PUBLISHED.labels(event_type).inc(count)
        if len(done) < len(rows):
            raise RuntimeError("broker refused an event")
        return len(done)

    async def _publish(self, channel: AbstractChannel, messages: list[Message]) -> list[Any]:
        """Each message's outcome, in order: its confirm, or the error (a return, a nack)."""
        if self.fast_path:
            underlay = cast(aiormq.Channel, await channel.get_underlay_channel())
            return await fast_publish.publish(underlay, messages)
        return [await self._publish_one(message) for message in messages]

    async def _publish_one(self, message: Message) -> Any:
        """One message through aio-pika, waiting for its confirm; the error if it failed."""
        try:
            return await self._exchanges[message.exchange].publish(
                aio_pika.Message(
                    message.body,
                    message_id=message.message_id,
                    type=message.event_type,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                message.event_type,
                mandatory=True,
            )
        except Exception as exc:
            if self._channel is None or self._channel.is_closed:
                # The channel is gone: the batch fails as a whole, as on the fast path.
                raise ConnectionError("the broker channel closed while publishing") from exc
            return exc  # a return or a nack: this event's outcome

    @staticmethod
    async def _without_rows_held_back(
        conn: asyncpg.Connection, rows: list[asyncpg.Record]
    ) -> list[asyncpg.Record]:
        keys = list({r["aggregate_key"] for r in rows if r["aggregate_key"] is not None})
        if not keys:
            return rows
        held = await conn.fetch(_HELD_ELSEWHERE, keys, [r["id"] for r in rows], rows[-1]["id"])
        if not held:
            return rows
        first_held = {r["aggregate_key"]: r["first_id"] for r in held}
        return [
            r
            for r in rows
            if r["aggregate_key"] not in first_held or r["id"] < first_held[r["aggregate_key"]]
        ]


# Events a service may lose rather than hold its outbox behind: an access refusal's audit copy
# (ebok_shared.http.refusal_audit; the refusal's log line stays) when no queue takes it yet,
# e.g. before auth first declared its queue, or in a test without auth.
BEST_EFFORT = frozenset({"security.access.refused"})

_chosen: bool | None = None


def choose_fast_path() -> bool:
    """Whether the fast path can be used with the installed aiormq (probed once, and said once
    in the log, per process)."""
    global _chosen
    if _chosen is None:
        reason = fast_publish.unavailable()
        _chosen = reason is None
        if reason is None:
            log.info("outbox relay publishes through the fast path")
        else:
            log.warning("outbox relay publishes through aio-pika: fast path off", reason=reason)
    return _chosen
