"""The back office's inbox for readings events, declared by this service at start-up.

The utility's systems (billing back office, meter service) keep their register of meters and
readings in step with e-BOK: the durable quorum queue ``<prefix>backoffice.readings`` is bound
to ``<prefix>readings.events`` with every event type readings publishes.

Why here: the outbox relay publishes with ``mandatory``, so an event no queue takes is an
error that stops the relay. Declaring the inbox with the publisher means every readings event
always has a queue, whether or not billing or the notifier consume that type yet. Declaring
is idempotent: every replica does it at every start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aio_pika
from aiohttp import web
from ebok_shared.service import BUS

from . import events

QUEUE = "backoffice.readings"


async def declare(app: web.Application) -> AsyncIterator[None]:
    bus = app[BUS]
    channel = await bus.connection.channel()
    try:
        exchange = await channel.declare_exchange(
            bus.topology.exchange("readings"), aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(
            bus.topology.queue(QUEUE), durable=True, arguments={"x-queue-type": "quorum"}
        )
        for routing_key in events.PUBLISHED:
            await queue.bind(exchange, routing_key=routing_key)
    finally:
        await channel.close()
    yield
