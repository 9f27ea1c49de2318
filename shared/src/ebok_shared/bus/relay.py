"""The outbox relay: publishes committed outbox rows to the broker, then deletes them.

Safe with several replicas: each claims a batch with ``FOR UPDATE SKIP LOCKED``. Within a
batch, events go out in id order on a confirm channel, all their frames in one write
(``mandatory`` + ``on_return_raises``, so an event that no queue takes is an error, never
silently dropped); the batch is deleted only after the broker confirmed it. A crash between
publish and delete publishes the batch again: consumers' inboxes make that harmless. Rows of
an aggregate whose earlier row is held by another relay wait for it, which keeps
per-aggregate order across replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import struct
from collections import Counter
from collections.abc import Awaitable
from typing import Any, TypeVar, cast

import aio_pika
import aiormq
import asyncpg
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection
from aiormq.abc import ChannelFrame

from .. import db
from ..logs import get_logger
from ..metrics import EVENTS_PUBLISHED
from .outbox import NOTIFY_CHANNEL
from .topology import Topology

log = get_logger(__name__)

_T = TypeVar("_T")
_Message = tuple[str, str, str, bytes]  # exchange, event type (routing key), message id, body

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
            types = {r["event_type"]: self.topology.exchange_for(r["event_type"]) for r in rows}
            channel = await self._confirm_channel(set(types))
            results = await _publish(
                channel, [(types[t], t, event_id, body) for _, event_id, t, _, body in rows]
            )
            done = []
            published: Counter[str] = Counter()
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
                published[row["event_type"]] += 1
            await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", done)
        for event_type, count in published.items():
            EVENTS_PUBLISHED.labels(event_type).inc(count)
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


async def _publish(channel: aiormq.Channel, messages: list[_Message]) -> list[Any]:
    """Publish (exchange, event type, message id, body) as persistent, mandatory messages,
    in order, and return each one's outcome: its confirm, or the error (a return, a nack).

    What aiormq's ``basic_publish`` does per message (a task, the channel lock, a frame
    queue hand-off and a socket write each: most of the relay's CPU) done once for the
    batch, with the same confirmation bookkeeping, so the broker's confirms and returns
    reach these futures exactly as they would reach aiormq's."""
    if not messages:
        return []
    first, confirms = await _unless_closed(channel, _enqueue(channel, messages))
    try:
        return await _unless_closed(channel, asyncio.gather(*confirms, return_exceptions=True))
    finally:
        _forget(channel, messages, first)


async def _enqueue(
    channel: aiormq.Channel, messages: list[_Message]
) -> tuple[int, list[asyncio.Future[Any]]]:
    """Number the messages, register their confirmations and queue all their frames as one
    write; returns the first delivery tag and the confirmations."""
    futures: list[asyncio.Future[Any]] = []
    loop = asyncio.get_running_loop()
    async with channel.lock:  # nothing else takes a delivery tag in between
        payload = b"".join(_message_frames(channel, *message) for message in messages)
        first = channel.delivery_tag + 1
        for tag, (_, _, message_id, _) in enumerate(messages, first):
            # A plain future, not the channel's (whose registry costs a quarter of the relay):
            # _unless_closed, not the channel's close, is what ends the wait for it.
            future = loop.create_future()
            futures.append(future)
            channel.confirmations[tag] = future
            channel.message_id_delivery_tag[message_id] = tag  # how a return finds its publish
        channel.delivery_tag = first + len(messages) - 1
        try:
            await channel.write_queue.put(ChannelFrame(payload, should_close=False))
        except BaseException:
            # Never written, so the broker numbers the next publish ``first``: undo.
            channel.delivery_tag = first - 1
            for tag, future in enumerate(futures, first):
                channel.confirmations.pop(tag, None)
                future.cancel()
            _forget(channel, messages, first)
            raise
    return first, futures


def _forget(channel: aiormq.Channel, messages: list[_Message], first: int) -> None:
    for tag, (_, _, message_id, _) in enumerate(messages, first):
        if channel.message_id_delivery_tag.get(message_id) == tag:
            del channel.message_id_delivery_tag[message_id]


# AMQP 0-9-1 frames, encoded here because pamqp's general encoder costs more than the rest
# of the relay; tests check the bytes against pamqp's.
_FRAME_HEAD = struct.Struct(">BHI")  # frame type, channel, payload size
_METHOD = struct.Struct(">HHH")  # class, method, reserved (ticket)
_HEADER = struct.Struct(">HHQH")  # class (basic), weight, body size, property flags
_FLAGS = 0x8000 | 0x1000 | 0x0080 | 0x0020  # content-type, delivery-mode, message-id, type
_CONTENT_TYPE = b"\x10application/json"
_PERSISTENT = b"\x02"


@functools.lru_cache(maxsize=256)
def _method_frame(channel_number: int, exchange: str, routing_key: str) -> bytes:
    """basic.publish (class 60, method 40) with ``mandatory`` set: a constant per route."""
    method = _METHOD.pack(60, 40, 0) + _short(exchange) + _short(routing_key) + b"\x01"
    return _FRAME_HEAD.pack(1, channel_number, len(method)) + method + b"\xce"


def _short(value: str) -> bytes:
    raw = value.encode()
    if len(raw) > 255:
        raise ValueError(f"longer than an AMQP short string: {value[:50]}…")
    return bytes((len(raw),)) + raw


def _message_frames(
    channel: aiormq.Channel, exchange: str, event_type: str, message_id: str, body: bytes
) -> bytes:
    number = channel.number
    header = (
        _HEADER.pack(60, 0, len(body), _FLAGS)
        + _CONTENT_TYPE
        + _PERSISTENT
        + _short(message_id)
        + _short(event_type)
    )
    parts = [
        _method_frame(number, exchange, event_type),
        _FRAME_HEAD.pack(2, number, len(header)),
        header,
        b"\xce",
    ]
    size = channel.max_content_size
    for start in range(0, len(body), size):
        chunk = body[start : start + size]
        parts += (_FRAME_HEAD.pack(3, number, len(chunk)), chunk, b"\xce")
    return b"".join(parts)


async def _unless_closed(channel: aiormq.abc.AbstractChannel, step: Awaitable[_T]) -> _T:
    """``step``'s result; ConnectionError if the channel closes first. (Neither a put into a
    lost connection's full frame queue nor its pending confirms are sure to be woken by
    aiormq: without this, a broken connection mid-batch could stall the relay for good.)"""
    task = asyncio.ensure_future(step)
    closing = channel.closing
    try:
        await asyncio.wait({task, closing}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        raise
    finally:
        closing.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise ConnectionError("the broker channel closed while publishing")
    return task.result()
