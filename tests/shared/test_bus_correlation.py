"""The correlation id of a request follows its events: into the envelope, into the consuming
service's log lines, and into the events that service raises in turn."""

from __future__ import annotations

import asyncio
import json

from ebok_shared.logs import correlation_id_var

from tests.support.bus import ECHOED, BusSandbox
from tests.support.bus_worker import spawn
from tests.support.waiting import eventually


async def _echoed(bus: BusSandbox) -> bool:
    return bool(
        await bus.pool.fetchval("SELECT count(*) FROM outbox WHERE event_type = $1", ECHOED)
    )


async def test_correlation_id_reaches_the_consumer_logs_and_the_events_it_raises(
    bus: BusSandbox,
) -> None:
    await bus.build_consumer().declare()
    token = correlation_id_var.set("req-7f3a9c")  # as the HTTP middleware binds it
    try:
        [event] = await bus.add([{"n": 1}])
    finally:
        correlation_id_var.reset(token)
    wire = json.loads(await bus.pool.fetchval("SELECT body FROM outbox"))
    assert wire["correlation_id"] == "req-7f3a9c"
    assert await bus.publish_outbox() == 1

    # The consuming service: its own process, JSON logs on stdout (at DEBUG). Its handler
    # records the event and raises test.counter.echoed through its outbox.
    worker = await spawn("consumer-echoes", bus.dsn, bus.amqp_url, bus.topology.prefix)
    try:
        await eventually(lambda: _echoed(bus), "the handler's own event")
    finally:
        worker.terminate()
        out, err = await asyncio.wait_for(worker.communicate(), timeout=30)
    assert worker.returncode == 0, err.decode()

    lines = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    about_event = [line for line in lines if line.get("event_id") == str(event.id)]
    assert {line["event"] for line in about_event} >= {"echoing", "event handled"}
    assert all(line["correlation_id"] == "req-7f3a9c" for line in about_event)

    [body] = await bus.pool.fetch("SELECT body FROM outbox WHERE event_type = $1", ECHOED)
    echoed = json.loads(body["body"])
    assert echoed["payload"] == {"n": 1}
    assert echoed["correlation_id"] == "req-7f3a9c"
    assert echoed["id"] != str(event.id)
