"""The bus on a three-node RabbitMQ cluster: a node dies mid-stream and nothing is lost or
applied twice.

Three nodes of this test's own (``tests.system.infra.rabbit_cluster``) form a cluster; the
real outbox relay and the real consumer (``ebok_shared.bus``, as every service runs them)
connect through a TCP balancer, as a deployment's clients reach a cluster through one address;
their database is on a PostgreSQL of the test's own.
The consumer's quorum queues have a replica on every node. While 10,000 events go from the
outbox to the consumer, the node leading the consumer's queue is killed (SIGKILL) and, after
the stream has gone on without it, started again. The consumer's handler writes a row per
effect into a table with no unique constraint, so an event applied twice would show as two
rows: there must be exactly one row per event, and the same relay and consumer objects carry
the whole stream (neither is restarted).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from ebok_shared import db

from tests.support.bus import BusSandbox, sandbox
from tests.support.infra import dsn_for
from tests.support.proxy import Balancer
from tests.support.waiting import eventually

from .infra import RabbitNode, private_postgres, rabbit_cluster

pytestmark = [pytest.mark.timeout(420), pytest.mark.usefixtures("servers_installed")]

EVENTS = int(os.environ.get("EBOK_CLUSTER_EVENTS", "10000"))
BATCH = 500  # events committed to the outbox per transaction
KILL_AFTER = EVENTS * 3 // 10  # applied events before the leader is killed


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[list[RabbitNode]]:
    with rabbit_cluster(tmp_path / "cluster", size=3) as nodes:
        yield nodes


@pytest.fixture
async def own_database() -> AsyncIterator[str]:
    """A database on a PostgreSQL of the test's own (the shared server's connections are
    everybody's; this test must not fail for want of one)."""
    with private_postgres() as server:
        await db.ensure_database(server.url, "cluster")
        yield dsn_for(server.url, "cluster")


def _running_nodes(node: RabbitNode) -> set[str]:
    status = json.loads(node.ctl("cluster_status", "--formatter", "json"))
    return set(status["running_nodes"])


def _queue_replicas(node: RabbitNode, queue: str) -> tuple[str, list[str]]:
    """The node leading a quorum queue and the nodes holding its replicas."""
    rows = json.loads(node.ctl("list_queues", "name", "leader", "members", "--formatter", "json"))
    row = next(r for r in rows if r["name"] == queue)
    return str(row["leader"]), [str(m) for m in row["members"]]


async def test_a_node_killed_mid_stream_loses_nothing_and_applies_nothing_twice(
    cluster: list[RabbitNode], own_database: str, bus_prefix: str
) -> None:
    names = {n.node for n in cluster}
    assert await asyncio.to_thread(_running_nodes, cluster[0]) == names

    balancer = Balancer([n.port for n in cluster])
    await balancer.start()
    try:
        async with sandbox(own_database, balancer.url(cluster[0].url), bus_prefix) as bus:
            await _stream_with_a_node_killed(bus, cluster, names)
    finally:
        await balancer.close()


async def _stream_with_a_node_killed(
    bus: BusSandbox, cluster: list[RabbitNode], names: set[str]
) -> None:
    consumer = await bus.consumer("counter", prefetch=256)
    leader, members = await asyncio.to_thread(_queue_replicas, cluster[0], consumer.queue_name)
    assert set(members) == names, f"the queue is not on every node: {members}"
    relay = bus.relay(poll_interval=0.1, retry_delay=0.2)
    relay_task = bus.run(relay.run())

    added: list[str] = []

    async def produce() -> None:
        for start in range(0, EVENTS, BATCH):
            events = await bus.add([{"n": n} for n in range(start, min(start + BATCH, EVENTS))])
            added.extend(str(e.id) for e in events)
            await asyncio.sleep(0.05)

    async def applied() -> int:
        return int(await bus.pool.fetchval("SELECT count(*) FROM applied"))

    producer = asyncio.create_task(produce())
    await eventually(lambda: _at_least(applied, KILL_AFTER), "the stream to get going", within=120)

    victim = next(n for n in cluster if n.node == leader)
    await asyncio.to_thread(victim.kill)
    at_kill = await applied()
    # The stream goes on without the node: the queue elects a new leader among the two left.
    await eventually(
        lambda: _at_least(applied, min(EVENTS, at_kill + EVENTS // 5)),
        "the stream to go on with a node down",
        within=180,
    )
    await producer
    await asyncio.to_thread(victim.start)
    assert await asyncio.to_thread(_running_nodes, victim) == {n.node for n in cluster}

    await eventually(lambda: _at_least(applied, EVENTS), "every event to be applied", within=180)
    await eventually(_outbox_empty(bus), "the outbox to empty", within=60)
    rows = await bus.pool.fetch(
        "SELECT event_id::text AS id, count(*) AS n FROM applied GROUP BY 1"
    )
    applied_twice = [r["id"] for r in rows if r["n"] > 1]
    lost = set(added) - {r["id"] for r in rows}
    unexpected = {r["id"] for r in rows} - set(added)
    new_leader, _ = await asyncio.to_thread(_queue_replicas, cluster[0], consumer.queue_name)
    print(
        f"\nbus cluster: {len(added)} events, killed {leader} after {at_kill} applied;"
        f" leader now {new_leader}; lost {len(lost)}, applied twice {len(applied_twice)},"
        f" unexpected {len(unexpected)}; relay published {relay.published}"
        f" (re-published {relay.published - len(added)}); duplicates the inbox dropped"
        f" {bus.consumed('duplicate')}"
    )
    assert len(added) == EVENTS
    assert not lost, f"{len(lost)} events lost"
    assert not applied_twice, f"{len(applied_twice)} events applied twice"
    assert not unexpected
    assert not relay_task.done(), "the relay stopped"  # the same relay ran throughout
    assert bus.consumed("dead_lettered") == 0


async def _at_least(count: Callable[[], Awaitable[int]], wanted: int) -> bool:
    return await count() >= wanted


def _outbox_empty(bus: BusSandbox) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await bus.outbox_size() == 0

    return check
