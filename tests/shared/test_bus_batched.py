"""Batched subscriptions: a run of events of one type reaches the handler in one call (one
statement for a projection), applied once, and a failing event is isolated from its run."""

from __future__ import annotations

from collections import Counter

import asyncpg
from ebok_shared.bus import Event, Subscription

from tests.support.bus import INCREMENTED, BusSandbox, record_many
from tests.support.waiting import eventually

POISON = 13


async def test_runs_are_applied_in_one_call_once_and_a_poison_event_is_isolated(
    bus: BusSandbox,
) -> None:
    calls: list[int] = []

    async def handler(conn: asyncpg.Connection, events: list[Event]) -> None:
        calls.append(len(events))
        if any(e.payload["n"] == POISON for e in events):
            raise ValueError("poison")
        await record_many(conn, events)

    await bus.consumer(
        subscriptions=[Subscription(INCREMENTED, handler, batched=True)], batch_size=64
    )
    events = await bus.add([{"n": i} for i in range(300)])
    relay = bus.run(bus.relay().run())
    good = {e.id for e in events if e.payload["n"] != POISON}

    async def all_good_applied() -> bool:
        return {r["event_id"] for r in await bus.applied_rows()} == good

    await eventually(all_good_applied, "every good event")
    await eventually(lambda: bus.consumed("dead_lettered") == 1, "the poison event parked")
    relay.cancel()
    assert Counter(r["event_id"] for r in await bus.applied_rows()) == {i: 1 for i in good}
    assert max(calls) > 1, "runs of events reached the handler together"
    assert await bus.queue_depth(bus.topology.dead_letter_queue("counter")) == 1


async def test_a_backlog_is_taken_in_batches_of_hundreds(bus: BusSandbox) -> None:
    # A consumer behind by a thousand events catches up a few hundred per transaction and
    # ack (its defaults of batch size and prefetch; up to 128 before): each batch costs a
    # commit, an ack and the broker's settling of it. The linger is widened so that a loaded
    # machine, delivering slower than 5 ms per run, cannot cut the batches short.
    calls: list[int] = []

    async def handler(conn: asyncpg.Connection, events: list[Event]) -> None:
        calls.append(len(events))
        await record_many(conn, events)

    consumer = bus.build_consumer(
        subscriptions=[Subscription(INCREMENTED, handler, batched=True)], linger=1.0
    )
    await consumer.declare()
    events = await bus.add([{"n": i} for i in range(1200)])
    assert await bus.publish_outbox() == 1200
    await bus.start(consumer)

    await eventually(lambda: sum(calls) == 1200, "the backlog applied")
    assert [r["event_id"] for r in await bus.applied_rows()] == [e.id for e in events]
    assert max(calls) > 128, f"the backlog came in runs of {sorted(set(calls))}"
