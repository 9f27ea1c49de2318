"""The readings service as its tests run it (tests.support.service): the real app against the
test's own database and broker prefix, with a stand-in token issuer. Billing's events are
applied through the service's own handlers (or put on the broker, for the tests of the
consumer); everything readings publishes is also caught by a tap (``tap``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import partial
from typing import Any, cast

import asyncpg
from aiohttp import ClientResponse, FormData
from ebok_readings import events
from ebok_readings.app import create_app
from ebok_readings.settings import ReadingsSettings
from ebok_shared.bus import Event, default_catalogue
from ebok_shared.bus.consumer import Handler
from ebok_shared.clock import LOCAL_TZ, clock

from tests.support.payloads import contract_concluded
from tests.support.service import RunningService, running_service, settings_for_test

TODAY = dt.date(2026, 3, 10)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def freeze(day: dt.date = TODAY, hour: int = 10) -> None:
    """Move the one clock to ``day`` (local time)."""
    clock.freeze(dt.datetime(day.year, day.month, day.day, hour, tzinfo=LOCAL_TZ))


settings_for = partial(settings_for_test, ReadingsSettings, scheduler_enabled=False)


class Readings(RunningService[ReadingsSettings]):
    async def apply(self, event_type: str, payload: dict[str, Any]) -> Event:
        """Apply a consumed event through readings' own handler, in one transaction (as the
        consumer does; the broker path has its own tests)."""
        event = Event.new(event_type, payload)
        default_catalogue().validate(event)
        subscription = {s.event_type: s for s in events.SUBSCRIPTIONS}[event_type]
        assert not subscription.batched  # readings' handlers each take one event
        handler = cast(Handler, subscription.handler)
        async with self.pool.acquire() as conn, conn.transaction():
            await handler(conn, event)
        return event

    async def conclude(
        self,
        contract: str = "U/100001/2024",
        client: str = "100001",
        concluded_on: dt.date = dt.date(2024, 1, 15),
        serials: Sequence[str] = ("WM-100001-1",),
    ) -> None:
        await self.apply(
            events.CONTRACT_CONCLUDED,
            contract_concluded(
                client,
                contract_number=contract,
                concluded_on=concluded_on.isoformat(),
                serials=serials,
            ),
        )

    async def submit(
        self,
        serial: str = "WM-100001-1",
        value: str = "100.000",
        read_on: dt.date | str = TODAY,
        *,
        client: str = "100001",
        confirm: bool | None = None,
        photo: tuple[bytes, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> ClientResponse:
        day = read_on.isoformat() if isinstance(read_on, dt.date) else read_on
        all_headers = {**self.issuer.customer(client), **(headers or {})}
        url = f"/me/meters/{serial}/readings"
        if photo is None:
            body: dict[str, Any] = {"value": value, "read_on": day}
            if confirm is not None:
                body["confirm_unusual"] = confirm
            return await self.client.post(url, json=body, headers=all_headers)
        form = FormData()
        form.add_field("value", value)
        form.add_field("read_on", day)
        if confirm is not None:
            form.add_field("confirm_unusual", "true" if confirm else "false")
        form.add_field("photo", photo[0], filename=photo[1], content_type="image/png")
        return await self.client.post(url, data=form, headers=all_headers)

    async def feed(self, kind: str, body: str, content_type: str = "text/csv") -> ClientResponse:
        return await self.client.post(
            f"/operator/feed/{kind}",
            data=body.encode(),
            headers={**self.issuer.operator(), "Content-Type": content_type},
        )

    async def readings_of(self, serial: str) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT * FROM readings WHERE meter_serial = $1 ORDER BY read_on, submitted_at", serial
        )


async def seed_history(
    readings: Readings,
    serial: str,
    points: Sequence[tuple[dt.date, str]],
    source: str = "inspector",
) -> None:
    """Readings the back office reported (the feed), so a meter has its own history."""
    lines = ["meter_serial,read_on,value,source"] + [
        f"{serial},{day.isoformat()},{value},{source}" for day, value in points
    ]
    response = await readings.feed("readings", "\n".join(lines) + "\n")
    assert response.status == 201, await response.text()


running_readings = partial(running_service, create_app, tap=["readings"], service_type=Readings)
