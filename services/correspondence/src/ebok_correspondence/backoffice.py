"""The back office's inbox on the broker, declared by this service at start-up.

The back office (the utility's customer-service system, outside e-BOK) applies data-change
requests and examines reklamacje. It reads them from the durable quorum queue
``<prefix>backoffice``, bound to the exchange ``<prefix>correspondence.events`` with the
routing keys ``correspondence.data_change.requested`` and ``correspondence.reklamacja.filed``
(its work), and also the four case events (submitted, assigned, answered, closed: its
register of the utility's correspondence stays in step with e-BOK).

Why here: the outbox relay publishes with ``mandatory``, so an event no queue takes is an
error that stops the relay. Declaring the inbox with the publisher means every event this
service publishes always has a queue, even before the back office first connects and whether
or not the notifier consumes the case events yet. Declaring is idempotent: every replica does
it at every start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aio_pika
from aiohttp import web
from ebok_shared.service import BUS

from . import events

QUEUE = "backoffice"
ROUTING_KEYS = events.PUBLISHED


async def declare(app: web.Application) -> AsyncIterator[None]:
    bus = app[BUS]
    channel = await bus.connection.channel()
    try:
        exchange = await channel.declare_exchange(
            bus.topology.exchange("correspondence"), aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(
            bus.topology.queue(QUEUE), durable=True, arguments={"x-queue-type": "quorum"}
        )
        for routing_key in ROUTING_KEYS:
            await queue.bind(exchange, routing_key=routing_key)
    finally:
        await channel.close()
    yield
