"""Putting an event on the bus exactly as a producer's outbox relay would: on its
producer's exchange, persistent, mandatory, with publisher confirms."""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractConnection
from ebok_shared.bus import Event, Topology, default_catalogue


async def publish_event(connection: AbstractConnection, prefix: str, event: Event) -> Event:
    default_catalogue().validate(event)
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    try:
        exchange = await channel.declare_exchange(
            Topology(prefix).exchange_for(event.type), aio_pika.ExchangeType.TOPIC, durable=True
        )
        await exchange.publish(
            aio_pika.Message(
                event.to_json(),
                message_id=str(event.id),
                type=event.type,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            event.type,
            mandatory=True,
        )
    finally:
        await channel.close()
    return event
