"""Ops tools for a consumer's dead-letter queue: list the parked messages and re-drive them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractConnection
from aiormq.exceptions import ChannelNotFoundEntity

from .consumer import ATTEMPT_HEADER, ERROR_HEADER
from .topology import Topology


@dataclass(frozen=True)
class Parked:
    message_id: str | None
    event_type: str | None
    error: str
    dead_lettered_at: str
    body: bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "type": self.event_type,
            "error": self.error,
            "dead_lettered_at": self.dead_lettered_at,
            "body": self.body.decode("utf-8", "replace"),
        }


async def _exists(connection: AbstractConnection, queue: str) -> bool:
    """Whether ``queue`` exists (a service that consumes nothing has no dead-letter queue).
    Asked on a channel of its own: the broker closes a channel that asks about a missing one."""
    channel = await connection.channel()
    try:
        await channel.declare_queue(queue, passive=True)
        return True
    except ChannelNotFoundEntity:
        return False
    finally:
        if not channel.is_closed:
            await channel.close()


async def list_dead_letters(
    connection: AbstractConnection, topology: Topology, consumer: str, limit: int = 100
) -> list[Parked]:
    """Peek: messages are fetched unacked and return to the queue when the channel closes."""
    if not await _exists(connection, topology.dead_letter_queue(consumer)):
        return []
    channel = await connection.channel()
    try:
        queue = await channel.get_queue(topology.dead_letter_queue(consumer), ensure=True)
        found = []
        for _ in range(limit):
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            headers = message.headers or {}
            found.append(
                Parked(
                    message_id=message.message_id,
                    event_type=message.type,
                    error=str(headers.get(ERROR_HEADER, headers.get("x-first-death-reason", ""))),
                    dead_lettered_at=str(headers.get("x-ebok-dead-lettered-at", "")),
                    body=message.body,
                )
            )
        return found
    finally:
        await channel.close()


async def redrive(
    connection: AbstractConnection,
    topology: Topology,
    consumer: str,
    *,
    message_id: str | None = None,
    limit: int = 10_000,
) -> int:
    """Move parked messages (all, or the one with ``message_id``) back to the consumer's queue
    with a fresh attempt count. Each is published with confirms before it is acked. Only the
    messages parked when the call began: one re-driven and parked again meanwhile (still
    failing) joins the queue's tail, and taking it again would move it twice, or round and
    round up to ``limit``."""
    if not await _exists(connection, topology.dead_letter_queue(consumer)):
        return 0
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    moved = 0
    try:
        queue = await channel.declare_queue(topology.dead_letter_queue(consumer), passive=True)
        parked = queue.declaration_result.message_count or 0
        skipped = []
        for _ in range(min(limit, parked)):
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            if message_id is not None and message.message_id != message_id:
                skipped.append(message)
                continue
            headers = {
                k: v
                for k, v in (message.headers or {}).items()
                if k not in (ATTEMPT_HEADER, ERROR_HEADER)
                and not k.startswith("x-death")
                and not k.startswith("x-first-death")
                and not k.startswith("x-last-death")
            }
            await channel.default_exchange.publish(
                aio_pika.Message(
                    message.body,
                    headers=headers,
                    message_id=message.message_id,
                    type=message.type,
                    content_type=message.content_type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                topology.queue(consumer),
                mandatory=True,
            )
            await message.ack()
            moved += 1
        for message in skipped:
            await message.nack(requeue=True)
        return moved
    finally:
        await channel.close()
