"""The operators' dead-letter routes every service serves (``ebok_shared.http.dead_letters``),
on readings: a malformed message parked in ``readings.dlq`` is listed with its error, looked
at by id, re-driven back to the queue (and, still malformed, parked again); admins only."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from typing import Any

import aio_pika
from ebok_shared.bus import Topology
from ebok_shared.clock import clock

from tests.readings.harness import Readings


async def _parked(readings: Readings, headers: dict[str, str]) -> list[dict[str, Any]]:
    resp = await readings.client.get("/operator/dead-letters", headers=headers)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["queue"].endswith("readings.dlq")
    # resp.json() is Any: the items are a list
    return body["items"]  # type: ignore[no-any-return]


async def _eventually(readings: Readings, headers: dict[str, str], count: int) -> list[Any]:
    deadline = time.monotonic() + 20
    while len(found := await _parked(readings, headers)) != count:
        assert time.monotonic() < deadline, f"expected {count} parked, saw {found}"
        await asyncio.sleep(0.1)
    return found


async def test_list_look_and_redrive_a_parked_message(readings: Readings) -> None:
    admin = readings.issuer.operator("szef", ("admin",))
    message_id = str(uuid.uuid4())
    queue = Topology(readings.settings.bus_prefix).queue("readings")
    channel = await readings.connection.channel()
    await channel.default_exchange.publish(
        aio_pika.Message(b"not json", message_id=message_id, type="billing.invoice.issued"),
        routing_key=queue,
    )
    await channel.close()

    [parked] = await _eventually(readings, admin, 1)
    assert parked["message_id"] == message_id and parked["body"] == "not json"
    assert parked["error"] and parked["dead_lettered_at"]
    resp = await readings.client.get(f"/operator/dead-letters/{message_id}", headers=admin)
    assert resp.status == 200 and (await resp.json())["message_id"] == message_id
    unknown = f"/operator/dead-letters/{uuid.uuid4()}"
    assert (await readings.client.get(unknown, headers=admin)).status == 404
    assert (await readings.client.post(unknown + "/redrive", headers=admin)).status == 404

    clock.advance(dt.timedelta(minutes=1))  # the tests' clock stands still otherwise
    resp = await readings.client.post(f"/operator/dead-letters/{message_id}/redrive", headers=admin)
    assert resp.status == 200 and (await resp.json())["moved"] == 1
    # Back on the queue, refused again (still not JSON) and parked anew, later.
    deadline = time.monotonic() + 20
    while True:
        found = await _parked(readings, admin)
        if found and found[0]["dead_lettered_at"] != parked["dead_lettered_at"]:
            break
        assert time.monotonic() < deadline, "the re-driven message was not handled again"
        await asyncio.sleep(0.1)

    customer_service = readings.issuer.operator("anna", ("customer_service",))
    resp = await readings.client.get("/operator/dead-letters", headers=customer_service)
    assert resp.status == 403 and (await resp.json())["role"] == "admin"
