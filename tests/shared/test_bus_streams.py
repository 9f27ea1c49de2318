"""Streams of events under trouble: the broker connection cut mid-stream, and two relay
replicas sharing one outbox. Nothing lost, nothing applied twice, per-aggregate order kept."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from typing import Any

import pytest
from ebok_shared import db
from ebok_shared.bus.consumer import RetryPolicy

from tests.support.bus import FAST_RETRY, PUBLISH_PATHS, BusSandbox
from tests.support.proxy import TcpProxy
from tests.support.waiting import eventually


async def _applied(bus: BusSandbox) -> int:
    return int(await bus.pool.fetchval("SELECT count(DISTINCT event_id) FROM applied"))


async def _settled(bus: BusSandbox, total: int) -> bool:
    return await bus.outbox_size() == 0 and await _applied(bus) == total


@pytest.mark.parametrize("publish_path", PUBLISH_PATHS)
async def test_broker_connection_cut_mid_stream_loses_nothing_and_applies_once(
    bus: BusSandbox,
) -> None:
    proxy = TcpProxy.for_url(bus.amqp_url)
    await proxy.start()
    bus.on_close(proxy.close)
    # Relay and consumer share one robust connection through the proxy, as in a service.
    proxied = await bus.connect(proxy.url(bus.amqp_url), "through-proxy")
    await bus.consumer(connection=proxied)
    bus.run(bus.relay(connection=proxied).run())

    events = []
    cuts = []
    for batch in range(40):  # 1,000 events, 25 per business transaction
        events += await bus.add([{"n": batch * 25 + i} for i in range(25)])
        if batch in (10, 25):
            # Cut once something is on its way (applied), not before traffic starts.
            await eventually(lambda: _applied_some(bus), "traffic through the proxy")
            cuts.append(proxy.cut())
        await asyncio.sleep(0.01)  # a stream, not one burst

    await eventually(lambda: _settled(bus, 1000), "all 1,000 events", within=60)
    assert cuts == [1, 1]  # each cut broke the live connection…
    assert proxy.accepted == 3  # …and the robust connection came back through the proxy
    rows = Counter(r["event_id"] for r in await bus.applied_rows())
    assert rows == {e.id: 1 for e in events}


async def test_a_database_outage_holds_the_batch_and_spends_none_of_its_deliveries(
    bus: BusSandbox,
) -> None:
    """PostgreSQL down longer than the delivery limit's worth of quick retries: the consumer
    waits with what it holds, and every event is applied once it is back, none dead-lettered."""
    proxy = TcpProxy.for_url(bus.dsn)
    await proxy.start()
    bus.on_close(proxy.close)
    pool = await db.create_pool(proxy.url(bus.dsn), min_size=1, max_size=2)
    bus.on_close(pool.close)
    # Two deliveries at most: one return to the queue and the next goes to the dead letters.
    retry = RetryPolicy(delays=FAST_RETRY.delays, delivery_limit=2)
    await bus.consumer(pool=pool, retry=retry)
    await proxy.set_mode("refuse")  # the consumer's database is gone (the relay's is not)
    events = await bus.add([{"n": n} for n in range(20)])
    bus.run(bus.relay().run())
    await eventually(lambda: _outbox_empty(bus), "the events on the broker")
    await asyncio.sleep(4)  # the outage: the old consumer handed its batch back every 0.5 s
    await proxy.set_mode("pass")

    await eventually(lambda: _applied_is(bus, 20), "all 20 events", within=60)
    assert Counter(r["event_id"] for r in await bus.applied_rows()) == {e.id: 1 for e in events}
    assert await bus.queue_depth(bus.topology.dead_letter_queue("counter")) == 0


async def _applied_is(bus: BusSandbox, total: int) -> bool:
    return await _applied(bus) == total


async def _outbox_empty(bus: BusSandbox) -> bool:
    return await bus.outbox_size() == 0


async def _applied_some(bus: BusSandbox) -> bool:
    return await _applied(bus) > 0


@pytest.mark.parametrize("publish_path", PUBLISH_PATHS)
async def test_two_relays_on_one_outbox_publish_every_event_once(bus: BusSandbox) -> None:
    await bus.consumer()
    events = []
    for start in range(0, 10_000, 500):  # committed first: both relays start on a full outbox
        events += await bus.add([{"n": n} for n in range(start, start + 500)])
    relays = [bus.relay(batch_size=200), bus.relay(batch_size=200)]
    for relay in relays:
        bus.run(relay.run())

    await eventually(lambda: _settled(bus, 10_000), "all 10,000 events", within=180)
    assert all(relay.published > 0 for relay in relays), [r.published for r in relays]
    assert Counter(r["event_id"] for r in await bus.applied_rows()) == {e.id: 1 for e in events}


@pytest.mark.parametrize("publish_path", PUBLISH_PATHS)
async def test_two_relays_keep_each_aggregates_events_in_order(bus: BusSandbox) -> None:
    await bus.consumer()
    relays = [bus.relay(batch_size=200), bus.relay(batch_size=200)]
    # Events come in pairs of one aggregate, offset by one from the relays' batches of 200:
    # the last row of one replica's batch and the first of the other's share an aggregate,
    # and the second replica must wait for the first to publish it.
    payloads: list[dict[str, Any]] = []
    seen: Counter[str] = Counter()
    for n in range(6_000):
        key = f"k{(n + 1) // 2 % 1_000}"
        payloads.append({"n": n, "key": key, "seq": seen[key]})
        seen[key] += 1
    for start in range(0, len(payloads), 500):
        await bus.add(payloads[start : start + 500], aggregate_key=lambda p: p["key"])
    for relay in relays:
        bus.run(relay.run())

    await eventually(lambda: _settled(bus, len(payloads)), "all events", within=180)
    arrived: dict[str, list[int]] = defaultdict(list)
    for row in await bus.applied_rows():  # in the order the consumer applied them
        arrived[row["key"]].append(row["key_seq"])
    assert arrived == {key: list(range(count)) for key, count in seen.items()}
    assert sum(relay.held_back for relay in relays) > 0  # and the replicas did contend
