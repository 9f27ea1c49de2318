"""Failing and malformed events: retried, parked in ``<queue>.dlq`` with their error, never
blocking the queue; the tooling that lists and re-drives them; and the services' CLI listing."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import aio_pika
import asyncpg
from ebok_shared.bus import Event, RetryPolicy
from ebok_shared.bus.consumer import ATTEMPT_HEADER, ERROR_HEADER
from ebok_shared.bus.dlq import list_dead_letters, redrive

from tests.support.bus import INCREMENTED, BusSandbox, record
from tests.support.process import service_command
from tests.support.waiting import eventually

NO_RETRY = RetryPolicy(delays=())  # the first failure parks the event


class Flaky:
    """A handler that fails for poison events (or for all while ``failing``), noting each call."""

    def __init__(self, *, failing: bool = False) -> None:
        self.failing = failing
        self.calls: list[tuple[int, bool]] = []  # (n, poison) in call order

    async def __call__(self, conn: asyncpg.Connection, event: Event) -> None:
        poison = bool(event.payload.get("poison"))
        self.calls.append((event.payload["n"], poison))
        if poison or self.failing:
            raise RuntimeError(f"cannot handle event {event.payload['n']}")
        await record(conn, event)


async def _drain(bus: BusSandbox, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Take every message off ``queue`` (acked: the test is done with them)."""
    channel = await bus.connection.channel()
    try:
        found = []
        q = await channel.get_queue(queue)
        while (message := await q.get(fail=False)) is not None:
            await message.ack()
            found.append(message)
        return found
    finally:
        await channel.close()


async def _depth_is(bus: BusSandbox, queue: str, expected: int) -> bool:
    return await bus.queue_depth(queue) == expected


async def test_poison_event_is_retried_then_parked_while_the_queue_moves_on(
    bus: BusSandbox,
) -> None:
    handler = Flaky()
    await bus.build_consumer(handlers={INCREMENTED: handler}).declare()
    # The poison event first, the good ones queued behind it.
    [poison, *good] = await bus.add([{"n": 0, "poison": True}, *({"n": i} for i in range(1, 21))])
    await bus.publish_outbox()
    await bus.consumer(handlers={INCREMENTED: handler})  # retry delays 0.2 s, 0.4 s

    dlq = bus.topology.dead_letter_queue("counter")
    await eventually(lambda: _depth_is(bus, dlq, 1), "the poison event to be parked")
    await eventually(lambda: bus.consumed("applied") == 20, "the good events")
    assert Counter(r["event_id"] for r in await bus.applied_rows()) == {e.id: 1 for e in good}
    # The good events did not wait for the poison one's retries: all of them were handled
    # before its last attempt.
    last_poison_call = max(i for i, (_, p) in enumerate(handler.calls) if p)
    last_good_call = max(i for i, (_, p) in enumerate(handler.calls) if not p)
    assert last_good_call < last_poison_call
    assert (bus.consumed("retried"), bus.consumed("dead_lettered")) == (2, 1)

    [parked] = await _drain(bus, dlq)
    headers: dict[str, Any] = dict(parked.headers)
    assert parked.message_id == str(poison.id)
    assert Event.from_dict(json.loads(parked.body)).id == poison.id
    assert headers[ERROR_HEADER] == "RuntimeError: cannot handle event 0"
    assert headers[ATTEMPT_HEADER] == 3
    # It went through both delay tiers on its way (the broker's own dead-letter trail).
    tiers = {d["queue"] for d in headers["x-death"]}
    assert tiers == {bus.topology.retry_queue("counter", 1), bus.topology.retry_queue("counter", 2)}


async def test_malformed_messages_are_parked_at_once_without_blocking_the_queue(
    bus: BusSandbox,
) -> None:
    consumer = bus.build_consumer()
    await consumer.declare()
    queue = bus.topology.queue("counter")
    first, second = (Event.new(INCREMENTED, {"n": n}) for n in (1, 2))
    envelope = first.to_dict()
    malformed = {
        "not-json": b"{not json",
        "not-an-envelope": json.dumps({"hello": "world"}).encode(),
        "unknown-type": json.dumps({**envelope, "type": "test.counter.vanished"}).encode(),
        "schema-violation": json.dumps({**envelope, "payload": {"n": "one"}}).encode(),
    }
    # Straight into the queue (as a misbehaving producer could), malformed ones last, so the
    # consumer gets them in one go with good events before and between them.
    bodies = [
        (first.to_json(), str(first.id)),
        *((body, name) for name, body in list(malformed.items())[:2]),
        (second.to_json(), str(second.id)),
        *((body, name) for name, body in list(malformed.items())[2:]),
    ]
    for body, message_id in bodies:
        await bus.publish_raw(body, exchange="", routing_key=queue, message_id=message_id)
    await bus.consumer()

    dlq = bus.topology.dead_letter_queue("counter")
    await eventually(lambda: _depth_is(bus, dlq, len(malformed)), "the malformed messages")
    await eventually(lambda: bus.consumed("applied") == 2, "the good events")
    messages = await _drain(bus, dlq)
    assert sorted(str(m.message_id) for m in messages) == sorted(malformed)  # each once
    parked: dict[str, dict[str, Any]] = {str(m.message_id): dict(m.headers) for m in messages}
    for name, headers in parked.items():
        assert str(headers[ERROR_HEADER]).startswith("malformed: "), name
        # Parked on the first attempt: no retry count, and never through a delay tier.
        assert ATTEMPT_HEADER not in headers and "x-death" not in headers, name
    assert "not JSON" in parked["not-json"][ERROR_HEADER]
    assert "unknown event type test.counter.vanished" in parked["unknown-type"][ERROR_HEADER]
    assert "n: 'one' is not of type" in parked["schema-violation"][ERROR_HEADER]
    assert [r["event_id"] for r in await bus.applied_rows()] == [first.id, second.id]
    assert (bus.consumed("retried"), bus.consumed("duplicate")) == (0, 0)


async def test_dead_letters_are_listed_in_place_and_redriven_to_apply_once(
    bus: BusSandbox,
) -> None:
    handler = Flaky(failing=True)
    await bus.consumer(handlers={INCREMENTED: handler}, retry=NO_RETRY)
    a, b = await bus.add([{"n": 1}, {"n": 2}])
    await bus.publish_outbox()
    dlq = bus.topology.dead_letter_queue("counter")
    await eventually(lambda: _depth_is(bus, dlq, 2), "both events to be parked")

    for _ in range(2):  # listing leaves them parked: a second look finds the same
        listed = await list_dead_letters(bus.connection, bus.topology, "counter")
        assert [(p.message_id, p.event_type, p.error) for p in listed] == [
            (str(a.id), INCREMENTED, "RuntimeError: cannot handle event 1"),
            (str(b.id), INCREMENTED, "RuntimeError: cannot handle event 2"),
        ]
        assert all(p.dead_lettered_at for p in listed)
        assert Event.from_dict(json.loads(listed[0].body)).id == a.id
        await eventually(lambda: _depth_is(bus, dlq, 2), "the listed messages to stay parked")

    handler.failing = False  # the cause is fixed; re-drive one, then the rest
    assert await redrive(bus.connection, bus.topology, "counter", message_id=str(a.id)) == 1
    await eventually(lambda: bus.consumed("applied") == 1, "the re-driven event")
    [left] = await list_dead_letters(bus.connection, bus.topology, "counter")
    assert left.message_id == str(b.id)
    await eventually(lambda: _depth_is(bus, dlq, 1), "the other one to stay parked")
    assert await redrive(bus.connection, bus.topology, "counter") == 1
    await eventually(lambda: bus.consumed("applied") == 2, "the second re-driven event")

    assert Counter(r["event_id"] for r in await bus.applied_rows()) == {a.id: 1, b.id: 1}
    assert await list_dead_letters(bus.connection, bus.topology, "counter") == []
    assert await redrive(bus.connection, bus.topology, "counter") == 0


async def test_a_redrive_moves_each_message_parked_when_it_began_once(bus: BusSandbox) -> None:
    """A message re-driven and parked again before the re-drive ends (here at once: the
    queue sends whatever reaches it back to the dead-letter queue) is not moved again."""
    queue, dlq = bus.topology.queue("counter"), bus.topology.dead_letter_queue("counter")
    bus.track_queues([queue, dlq])
    channel = await bus.connection.channel()
    await channel.declare_queue(dlq, durable=True)
    bounce = {"x-message-ttl": 0, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq}
    await channel.declare_queue(queue, durable=True, arguments=bounce)
    await channel.close()
    for n in range(3):
        await bus.publish_raw(b"not json", exchange="", routing_key=dlq, message_id=f"m{n}")
    await eventually(lambda: _depth_is(bus, dlq, 3), "three parked messages")

    assert await redrive(bus.connection, bus.topology, "counter", limit=50) == 3
    await eventually(lambda: _depth_is(bus, dlq, 3), "the three parked again")
    assert await redrive(bus.connection, bus.topology, "counter", message_id="m1") == 1


async def _cli(bus: BusSandbox, *args: str) -> tuple[int, str, str]:
    """``python -m ebok_billing dlq …`` as an operator runs it: (exit code, stdout, stderr)."""
    env = {
        "EBOK_DATABASE_URL": bus.dsn,
        "EBOK_AMQP_URL": bus.amqp_url,
        "EBOK_BUS_PREFIX": bus.topology.prefix,
    }
    done = await service_command("billing", "dlq", *args, env=env, timeout=60)
    return done.code, done.out, done.err


def _parked(stdout: str) -> list[dict[str, Any]]:
    """The parked messages ``dlq list`` printed (JSON lines; log lines have no message_id)."""
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return [line for line in lines if "message_id" in line]


async def test_billing_cli_lists_dead_letters(bus: BusSandbox) -> None:
    # Billing consumes nothing yet: no dead-letter queue exists. A clean, empty answer.
    code, out, err = await _cli(bus, "list")
    assert code == 0, err
    assert "Traceback" not in err + out
    assert _parked(out) == []

    # A billing consumer (a test subscription) parks an event; the CLI shows it, in place.
    handler = Flaky(failing=True)
    await bus.consumer("billing", handlers={INCREMENTED: handler}, retry=NO_RETRY)
    [event] = await bus.add([{"n": 5}])
    await bus.publish_outbox()
    await eventually(
        lambda: _depth_is(bus, bus.topology.dead_letter_queue("billing"), 1), "the parked event"
    )
    code, out, err = await _cli(bus, "list")
    assert code == 0, err
    [parked] = _parked(out)
    assert parked["message_id"] == str(event.id)
    assert parked["type"] == INCREMENTED
    assert parked["error"] == "RuntimeError: cannot handle event 5"

    assert await bus.queue_depth(bus.topology.dead_letter_queue("billing")) == 1  # still parked
