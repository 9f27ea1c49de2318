"""Where the bus talks AMQP below aio-pika, for speed: the relay's own publish frames (and
the probe that turns them off when aiormq is not what they expect), and the consumer
registered on the protocol channel, which must come back by itself."""

from __future__ import annotations

import asyncio
import importlib.metadata
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import cast

import aio_pika
import aiormq
import pamqp.frame
import pytest
from ebok_shared import db
from ebok_shared.bus import Event, OutboxRelay, fast_publish
from ebok_shared.bus import relay as relay_module
from ebok_shared.bus.fast_publish import Message, message_frames
from pamqp import commands
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

from tests.support.bus import ECHOED, INCREMENTED, PRODUCER, BusSandbox, delete_bus_objects
from tests.support.waiting import eventually

EVENT_TYPE = "billing.invoice.issued"
MESSAGE_ID = "0b8f1f3c-5b7e-4a39-9d55-1f1e4f2a1d0c"


@pytest.mark.parametrize("size", [0, 1, 99, 100, 101, 1_000])
def test_the_relays_frames_are_the_ones_pamqp_would_send(size: int) -> None:
    channel = SimpleNamespace(number=7, max_content_size=100)
    body = bytes(i % 251 for i in range(size))
    expected = pamqp.frame.marshal(
        commands.Basic.Publish(exchange="x.billing.events", routing_key=EVENT_TYPE, mandatory=True),
        7,
    ) + pamqp.frame.marshal(
        ContentHeader(
            0,
            size,
            commands.Basic.Properties(
                content_type="application/json",
                delivery_mode=2,
                message_id=MESSAGE_ID,
                message_type=EVENT_TYPE,
            ),
        ),
        7,
    )
    for start in range(0, size, 100):
        expected += pamqp.frame.marshal(ContentBody(body[start : start + 100]), 7)

    # a stand-in channel: only the attributes message_frames reads
    frames = message_frames(channel, "x.billing.events", EVENT_TYPE, MESSAGE_ID, body)  # type: ignore[arg-type]
    assert frames == expected


async def test_a_consumer_the_broker_cancelled_consumes_again(bus: BusSandbox) -> None:
    consumer = await bus.consumer()
    bus.run(bus.relay().run())
    await bus.add([{"n": 1}])
    await eventually(lambda: bus.consumed("applied") == 1, "the first event")

    # Deleting the queue makes the broker cancel its consumer; the consumer keeps trying to
    # consume again (failing while the queue is gone) and succeeds once it is back.
    await delete_bus_objects(bus.connection, [consumer.queue_name], [])
    await eventually(lambda: consumer._consuming is None, "the broker's cancel")
    await asyncio.sleep(1.5)  # at least one failed attempt (it closes the channel)
    await consumer.declare()
    await bus.add([{"n": 2}])
    await eventually(lambda: bus.consumed("applied") == 2, "the event after the cancel")


async def test_a_large_batch_is_settled_by_the_brokers_confirms_with_a_return_among_them(
    bus: BusSandbox,
) -> None:
    # The relay's channel settles a confirm covering many publishes in one pass (not
    # aiormq's loop): every publish gets its own outcome, the returned one its error, and
    # nothing is left pending on the channel afterwards.
    await bus.consumer()  # a queue takes test.counter.incremented; nothing takes echoed
    channel = await bus.connection.channel(publisher_confirms=True, on_return_raises=True)
    exchange = bus.topology.exchange(PRODUCER)
    await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    underlay = cast(aiormq.Channel, await channel.get_underlay_channel())
    returned = {250, 1200}
    messages = [
        Message(
            exchange,
            ECHOED if i in returned else INCREMENTED,
            str(uuid.uuid4()),
            Event.new(INCREMENTED, {"n": i}).to_json(),
        )
        for i in range(1500)
    ]
    try:
        for _ in range(2):  # the second batch on the channel whose handler is now ours
            # bounded: a confirm left unsettled would otherwise hang the test
            outcomes = await asyncio.wait_for(fast_publish.publish(underlay, messages), 30)
            assert [i for i, o in enumerate(outcomes) if isinstance(o, BaseException)] == sorted(
                returned
            )
            assert all(isinstance(outcomes[i], aiormq.exceptions.PublishError) for i in returned)
            assert not underlay.confirmations
            assert not underlay.message_id_delivery_tag
    finally:
        await channel.close()
    await eventually(lambda: bus.consumed("applied") == 1498, "the taken events")


def test_the_fast_path_is_used_with_the_pinned_aiormq() -> None:
    assert fast_publish.unavailable() is None


@pytest.mark.parametrize(
    "change",
    [
        lambda mp: mp.setattr(importlib.metadata, "version", lambda _: "7.3.0"),
        lambda mp: mp.delattr(aiormq.Channel, "lock"),
        lambda mp: mp.setattr(aiormq.Channel, "__init__", lambda self: None),
    ],
    ids=["another aiormq release", "a member gone", "channel state renamed"],
)
def test_the_probe_refuses_internals_it_was_not_written_for(
    monkeypatch: pytest.MonkeyPatch, change: Callable[[pytest.MonkeyPatch], None]
) -> None:
    change(monkeypatch)
    assert fast_publish.unavailable() is not None


async def test_the_relay_falls_back_to_aio_pika_when_the_internals_are_not_there(
    bus: BusSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(relay_module, "_chosen", None)  # probe again, in this process
    monkeypatch.setattr(fast_publish, "unavailable", lambda: "aiormq 9.9 is not the pinned release")
    relay = OutboxRelay(bus.dsn, bus.connection, topology=bus.topology)  # fast path asked for
    assert relay.fast_path is False
    monkeypatch.setattr(fast_publish, "publish", _never)

    await bus.consumer()
    events = await bus.add([{"n": i} for i in range(3)])
    conn = await db.connect(bus.dsn)
    try:
        assert await relay.publish_batch(conn) == 3
    finally:
        await conn.close()
    await eventually(lambda: bus.consumed("applied") == 3, "the events")
    assert [r["event_id"] for r in await bus.applied_rows()] == [e.id for e in events]


async def _never(*_: object) -> list[object]:
    raise AssertionError("the fast path was used")
