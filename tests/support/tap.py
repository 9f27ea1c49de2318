"""The one event tap: the events a service published, as they arrive on the broker, checked
against the catalogue (the consumer side of each contract); wait for one by type and fields.

A tap either binds a queue of its own to producers' exchanges (every event they publish), or
consumes a queue the service itself declared (e.g. the back office's, where events really
arrive)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage
from ebok_shared.bus import Catalogue, Event, Topology, default_catalogue

from tests.support.waiting import eventually


class EventTap:
    def __init__(self, catalogue: Catalogue | None = None) -> None:
        self.catalogue = catalogue or default_catalogue()
        self.received: list[Event] = []  # every event so far, in arrival order
        self._read = 0  # how far take/until have read
        self._arrived = asyncio.Condition()
        self._channel: AbstractChannel | None = None

    @classmethod
    async def bound(
        cls, connection: AbstractConnection, topology: Topology, producers: Sequence[str]
    ) -> EventTap:
        """A tap on a queue of its own, bound to every event of ``producers``' exchanges
        (declared here, so nothing published after this returns is missed)."""
        tap = cls()
        channel = await tap._open(connection)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for producer in producers:
            exchange = await channel.declare_exchange(
                topology.exchange(producer), aio_pika.ExchangeType.TOPIC, durable=True
            )
            await queue.bind(exchange, routing_key="#")
        await queue.consume(tap._on_message, no_ack=True)
        return tap

    @classmethod
    async def on_queue(cls, connection: AbstractConnection, queue_name: str) -> EventTap:
        """A tap taking the events off an existing queue (it consumes them)."""
        tap = cls()
        channel = await tap._open(connection)
        queue = await channel.get_queue(queue_name, ensure=True)
        await queue.consume(tap._on_message, no_ack=True)
        return tap

    async def _open(self, connection: AbstractConnection) -> AbstractChannel:
        self._channel = await connection.channel()
        return self._channel

    async def close(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            with contextlib.suppress(Exception):  # a clean-up never fails a test
                await self._channel.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        # Taken without acks: nothing to settle when the tap closes with messages in flight.
        event = self.catalogue.parse(message.body)  # validates it
        async with self._arrived:
            self.received.append(event)
            self._arrived.notify_all()

    def of(self, event_type: str, **where: Any) -> list[Event]:
        """The events of ``event_type`` so far whose payload has the ``where`` values."""
        return [e for e in self.received if _matches(e, event_type, where)]

    async def wait_for(self, event_type: str, count: int = 1, **where: Any) -> list[Event]:
        """Wait until ``count`` such events arrived; all of them so far."""
        await eventually(
            lambda: len(self.of(event_type, **where)) >= count, f"{count} × {event_type} {where}"
        )
        return self.of(event_type, **where)

    async def payload(self, event_type: str, **where: Any) -> dict[str, Any]:
        """The payload of the first event of ``event_type`` with the ``where`` values
        (waiting for it)."""
        return (await self.wait_for(event_type, **where))[0].payload

    async def take(self, count: int, *, timeout: float = 30.0) -> list[Event]:
        """The next ``count`` events not read yet, in arrival order (waiting for them)."""
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.received) >= self._read + count),
                timeout,
            )
            taken = self.received[self._read : self._read + count]
            self._read += count
        return taken

    async def until(self, event_type: str, *, timeout: float = 30.0, **where: Any) -> Event:
        """The next event not read yet of ``event_type`` with the ``where`` values (those
        before it count as read)."""
        while True:
            (event,) = await self.take(1, timeout=timeout)
            if _matches(event, event_type, where):
                return event


def _matches(event: Event, event_type: str, where: dict[str, Any]) -> bool:
    return event.type == event_type and all(event.payload.get(k) == v for k, v in where.items())
