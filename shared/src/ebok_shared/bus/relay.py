"""The outbox relay: publishes committed outbox rows to the broker, then deletes them.

Safe with several replicas: each claims a batch with ``FOR UPDATE SKIP LOCKED``. Within a
batch, events go out in id order on a confirm channel (``mandatory`` + ``on_return_raises``,
so an event that no queue takes is an error, never silently dropped); the batch is deleted
only after the broker confirmed it. A crash between publish and delete publishes the batch
again: consumers' inboxes make that harmless. Rows of an aggregate whose earlier row is held
by another relay wait for it, which keeps per-aggregate order across replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, cast

import aio_pika
import aiormq
import asyncpg
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection

from .. import db
from ..logs import get_logger
from ..metrics import EVENTS_PUBLISHED
from .outbox import NOTIFY_CHANNEL
from .topology import Topology

log = get_logger(__name__)

_CLAIM = """
SELECT id, event_id, event_type, aggregate_key, body FROM outbox
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
    ) -> None:
        self.dsn = dsn
        self.connection = connection
        self.topology = topology
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.retry_delay = retry_delay
        self._wake = asyncio.Event()
        self._channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}

    async def run(self) -> None:
        """Publish until cancelled; reconnects to the database and the broker by itself."""
        while True:
            conn: asyncpg.Connection | None = None
            try:
                # A dedicated connection: LISTEN does not survive a pool's reset.
                conn = await db.connect(self.dsn)
                await conn.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
                while True:
                    self._wake.clear()
                    published = await self.publish_batch(conn)
                    if published < self.batch_size:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox relay failed; retrying", error=repr(exc))
                await self._close_channel()
                await asyncio.sleep(self.retry_delay)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=2))

    async def _confirm_channel(self, event_types: set[str]) -> aiormq.Channel:
        """The confirm channel (opened on first use or after a failure), with the exchanges
        of ``event_types`` declared; returns the protocol channel to publish on."""
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
        return cast(aiormq.Channel, await self._channel.get_underlay_channel())

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
            channel = await self._confirm_channel({r["event_type"] for r in rows})
            # The whole batch in flight at once, frames queued in id order. wait=False: no
            # socket drain per message (aio-pika's publish waits for one); the broker's
            # confirm (or return: mandatory + on_return_raises) is what each send awaits.
            sends = [
                channel.basic_publish(
                    row["body"],
                    exchange=self.topology.exchange_for(row["event_type"]),
                    routing_key=row["event_type"],
                    properties=aiormq.spec.Basic.Properties(
                        message_id=str(row["event_id"]),
                        message_type=row["event_type"],
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT.value,
                    ),
                    mandatory=True,
                    wait=False,
                )
                for row in rows
            ]
            results = await _unless_closed(channel, sends)
            done = []
            for row, result in zip(rows, results, strict=True):
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
                EVENTS_PUBLISHED.labels(row["event_type"]).inc()
            await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", done)
        if len(done) < len(rows):
            raise RuntimeError("broker refused an event")
        return len(done)

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


async def _unless_closed(
    channel: aiormq.abc.AbstractChannel, sends: list[Coroutine[Any, Any, Any]]
) -> list[Any]:
    """The sends' outcomes; ConnectionError if the channel closes first. (A publish waiting
    for room in a lost connection's write buffer is never woken by aiormq: without this, a
    broken connection mid-batch would stall the relay for good.)"""
    gathered = asyncio.gather(*sends, return_exceptions=True)
    closing = channel.closing
    try:
        await asyncio.wait({gathered, closing}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        gathered.cancel()
        raise
    finally:
        closing.cancel()
    if not gathered.done():
        gathered.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await gathered
        raise ConnectionError("the broker channel closed while publishing")
    return gathered.result()
