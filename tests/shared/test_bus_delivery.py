"""At-least-once delivery, applied once: outbox → relay → RabbitMQ → consumer with inbox.

Each test counts rows of the ``applied`` table, which has no unique constraint: only the
consumer's inbox keeps a redelivered or republished event from taking effect twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from ebok_shared import db
from ebok_shared.bus import default_catalogue
from ebok_shared.bus.relay import RELAY_LOOP

from tests.support.bus import (
    ECHOED,
    INCREMENTED,
    PUBLISH_PATHS,
    BusSandbox,
    record,
)
from tests.support.bus_worker import DIED, spawn
from tests.support.waiting import eventually


async def _died(process: asyncio.subprocess.Process) -> None:
    """Wait for a worker's death and make sure it died where it was meant to."""
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == DIED, stderr.decode()


async def test_consumer_killed_between_commit_and_ack_applies_the_redelivery_once(
    bus: BusSandbox,
) -> None:
    await bus.build_consumer().declare()
    events = await bus.add([{"n": i} for i in range(3)])
    assert await bus.publish_outbox() == 3

    # The child commits the effects of its first batch, then dies where it would have acked.
    await _died(await spawn("consumer-dies-on-ack", bus.dsn, bus.amqp_url, bus.topology.prefix))
    applied_before_death = {r["event_id"] for r in await bus.applied_rows()}
    assert applied_before_death  # (usually all three: one batch)

    # The broker redelivers what was never acked to a fresh consumer: it recognises what
    # was applied and applies only the rest.
    await bus.consumer()
    await eventually(lambda: _taken(bus) == 3, "the redelivered events")
    assert Counter(r["event_id"] for r in await bus.applied_rows()) == {e.id: 1 for e in events}
    assert bus.consumed("duplicate") == len(applied_before_death)
    assert await bus.queue_depth(bus.topology.queue("counter")) == 0


async def test_the_same_event_published_twice_is_applied_once(bus: BusSandbox) -> None:
    await bus.consumer()
    [event] = await bus.add([{"n": 7}])
    wire = await bus.pool.fetchval("SELECT body FROM outbox WHERE event_id = $1", event.id)
    # Two copies back to back (likely one batch), then a third once those are handled.
    for _ in range(2):
        await bus.publish_raw(wire, routing_key=INCREMENTED, message_id=str(event.id))
    await eventually(lambda: _taken(bus) == 2, "2 copies")
    await bus.publish_raw(wire, routing_key=INCREMENTED, message_id=str(event.id))
    await eventually(lambda: _taken(bus) == 3, "the third copy")

    rows = await bus.applied_rows()
    assert [r["event_id"] for r in rows] == [event.id]
    assert (bus.consumed("applied"), bus.consumed("duplicate")) == (1, 2)


@pytest.mark.parametrize("publish_path", PUBLISH_PATHS)
async def test_relay_killed_between_publish_and_delete_publishes_again_and_it_applies_once(
    bus: BusSandbox,
) -> None:
    await bus.consumer()
    events = await bus.add([{"n": i} for i in range(5)])

    # The child publishes the batch (confirmed by the broker), then dies before the DELETE.
    relay = await spawn(
        "relay-dies-before-delete", bus.dsn, bus.amqp_url, bus.topology.prefix, bus.publish_path
    )
    await _died(relay)
    await eventually(lambda: _taken(bus) == 5, "the first publication")
    assert await bus.outbox_size() == 5  # the rows were never marked sent

    bus.run(bus.relay().run())
    await eventually(lambda: _outbox_empty(bus), "the outbox to drain")
    await eventually(lambda: _taken(bus) == 10, "the second publication")
    assert (bus.consumed("applied"), bus.consumed("duplicate")) == (5, 5)
    assert Counter(r["event_id"] for r in await bus.applied_rows()) == {e.id: 1 for e in events}


def _taken(bus: BusSandbox) -> int:
    """Copies the consumer took off its queue and settled, applied or not."""
    return bus.consumed("applied") + bus.consumed("duplicate")


async def _outbox_empty(bus: BusSandbox) -> bool:
    return await bus.outbox_size() == 0


@pytest.mark.parametrize("publish_path", PUBLISH_PATHS)
async def test_an_event_no_queue_takes_is_an_error_and_stays_in_the_outbox(
    bus: BusSandbox,
) -> None:
    await bus.consumer()  # takes test.counter.incremented only; nobody takes echoed yet
    first = await bus.add([{"n": 1}])
    lost = await bus.add([{"n": 2}], event_type=ECHOED)
    last = await bus.add([{"n": 3}])
    relay = bus.relay()
    conn = await db.connect(bus.dsn)
    try:
        with pytest.raises(RuntimeError, match="broker refused"):
            await relay.publish_batch(conn)
        # Rows from the refused one on stay, in order; the one before it is done.
        kept = await conn.fetch("SELECT event_id FROM outbox ORDER BY id")
        assert [r["event_id"] for r in kept] == [lost[0].id, last[0].id]

        # Once a queue takes the event, the next round delivers what was kept.
        await bus.consumer("echo", handlers={ECHOED: record})
        assert await relay.publish_batch(conn) == 2
        assert await bus.outbox_size() == 0
    finally:
        await conn.close()
    await eventually(lambda: bus.consumed("applied", "echo", ECHOED) == 1, "the kept event")
    # The event after the refused one went out in both rounds: applied once, one duplicate.
    await eventually(lambda: _taken(bus) == 3, "the incremented events")
    assert (bus.consumed("applied"), bus.consumed("duplicate")) == (2, 1)
    rows = Counter(r["event_id"] for r in await bus.applied_rows())
    assert rows == {first[0].id: 1, lost[0].id: 1, last[0].id: 1}


async def test_a_best_effort_event_no_queue_takes_is_dropped_not_holding_the_outbox(
    bus: BusSandbox,
) -> None:
    """An access refusal's audit copy (ebok_shared.http.refusal_audit) that no queue takes
    (auth not started yet, a test without auth) must not hold every later event back."""
    await bus.consumer()  # takes test.counter.incremented only
    example = default_catalogue().schemas[("security.access.refused", 1)]["examples"][0]
    await bus.add([example], event_type="security.access.refused")
    await bus.add([{"n": 1}])
    relay = bus.relay()
    conn = await db.connect(bus.dsn)
    try:
        assert await relay.publish_batch(conn) == 2  # dropped, and the next one delivered
        assert await bus.outbox_size() == 0
    finally:
        await conn.close()


async def _relay_backends(bus: BusSandbox) -> list[int]:
    rows = await bus.pool.fetch(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1"
        " AND datname = current_database()",
        RELAY_LOOP,
    )
    return [r["pid"] for r in rows]


@pytest.mark.parametrize("publish_path", PUBLISH_PATHS)
async def test_the_relay_listens_again_when_the_server_ends_its_connection(
    bus: BusSandbox,
) -> None:
    """PostgreSQL ends the relay's LISTEN connection (``pg_terminate_backend``, as a restart or
    a DBA does): the relay reconnects, publishes what came meanwhile, and new rows wake it
    again. Its periodic sweep is an hour away, so only the reconnect and the notifications
    can have published them (before the shared LISTEN loop, the relay went on waiting on the
    dead connection until that sweep)."""
    await bus.consumer()
    bus.run(bus.relay(poll_interval=3600).run())
    await bus.add([{"n": 1}])
    await eventually(lambda: bus.consumed("applied") == 1, "the first event")
    [first] = await _relay_backends(bus)

    await bus.pool.execute("SELECT pg_terminate_backend($1)", first)
    await bus.add([{"n": 2}])  # while the relay is away, or just back
    await eventually(lambda: bus.consumed("applied") == 2, "the event added meanwhile")

    async def listening_again() -> bool:
        return bool(await _relay_backends(bus)) and first not in await _relay_backends(bus)

    await eventually(listening_again, "the relay's new connection")
    await bus.add([{"n": 3}])  # a notification on the new connection
    await eventually(lambda: bus.consumed("applied") == 3, "the event after the reconnect")
    assert sorted(r["n"] for r in await bus.applied_rows()) == [1, 2, 3]


async def test_a_stream_of_commits_is_published_in_batches_a_lone_one_at_once(
    bus: BusSandbox,
) -> None:
    """Events committed one by one in a steady stream wake the relay on each commit; its
    passes start ``settle`` apart at the least, so the stream goes out in a few batches, not
    one pass per commit. After a quiet spell, an event's pass starts at once."""
    await bus.consumer()
    settle = 1.0
    relay = bus.relay(poll_interval=3600, settle=settle)
    bus.run(relay.run())
    await asyncio.sleep(settle + 0.2)  # its first pass (at start), then quiet

    started = time.perf_counter()
    await bus.add([{"n": 0}])
    await eventually(lambda: bus.consumed("applied") == 1, "a lone event")
    assert time.perf_counter() - started < settle * 0.8  # not held for the settle time

    for n in range(1, 21):  # 20 commits over about 0.2 s
        await bus.add([{"n": n}])
        await asyncio.sleep(0.01)
    await eventually(lambda: bus.consumed("applied") == 21, "the stream")
    assert relay.published == 21
    assert relay.batches <= 4, relay.batches  # without the spacing: a pass per commit or two
