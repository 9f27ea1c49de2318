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

import aio_pika
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
                self._channel = None
                await asyncio.sleep(self.retry_delay)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=2))

    async def _exchange(self, event_type: str) -> AbstractExchange:
        if self._channel is None or self._channel.is_closed:
            self._channel = await self.connection.channel(
                publisher_confirms=True, on_return_raises=True
            )
            self._exchanges.clear()
        name = self.topology.exchange_for(event_type)
        if name not in self._exchanges:
            self._exchanges[name] = await self._channel.declare_exchange(
                name, aio_pika.ExchangeType.TOPIC, durable=True
            )
        return self._exchanges[name]

    async def publish_batch(self, conn: asyncpg.Connection) -> int:
        """Claim, publish and delete one batch; returns how many rows were published."""
        async with conn.transaction():
            rows = await conn.fetch(_CLAIM, self.batch_size)
            if not rows:
                return 0
            rows = await self._without_rows_held_back(conn, rows)
            sends = []
            for row in rows:
                exchange = await self._exchange(row["event_type"])
                message = aio_pika.Message(
                    row["body"],
                    message_id=str(row["event_id"]),
                    type=row["event_type"],
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                )
                sends.append(exchange.publish(message, row["event_type"], mandatory=True))
            results = await asyncio.gather(*sends, return_exceptions=True)
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
        held = await conn.fetch(
            _HELD_ELSEWHERE, keys, [r["id"] for r in rows], rows[-1]["id"]
        )
        if not held:
            return rows
        first_held = {r["aggregate_key"]: r["first_id"] for r in held}
        return [
            r
            for r in rows
            if r["aggregate_key"] not in first_held or r["id"] < first_held[r["aggregate_key"]]
        ]
