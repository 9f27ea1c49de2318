"""Garden water meters (terms III.d): requests for installation, replacement and removal go
to an operator; an accepted one changes the meter registry (and its readings then lower the
sewage billed); the assistant shows legalisation and reading dates and reminds by e-mail."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from aiohttp import ClientResponse, FormData
from ebok_readings import events, scheduler
from ebok_shared import db
from ebok_shared.clock import clock

from tests.readings.harness import (
    PNG,
    Readings,
    freeze,
    running_readings,
    seed_history,
    settings_for,
)
from tests.support.answers import fields_of, problem

GARDEN = "OG-2021-007"


async def request(
    readings: Readings, body: dict[str, Any], client: str = "100001", photo: bytes | None = None
) -> ClientResponse:
    if photo is None:
        return await readings.client.post(
            "/me/garden-meter-requests", json=body, headers=readings.issuer.customer(client)
        )
    form = FormData()
    for name, value in body.items():
        form.add_field(name, value)
    form.add_field("photo", photo, filename="plomba.png", content_type="image/png")
    return await readings.client.post(
        "/me/garden-meter-requests", data=form, headers=readings.issuer.customer(client)
    )


async def decide(
    readings: Readings, request_id: str, decision: str, reason: str | None = None
) -> ClientResponse:
    body = {"decision": decision, **({"reason": reason} if reason else {})}
    return await readings.client.post(
        f"/operator/garden-meter-requests/{request_id}/decision",
        json=body,
        headers=readings.issuer.operator(),
    )


async def install_garden(readings: Readings, on: str = "2025-05-20") -> None:
    batch = (
        "action,serial,kind,contract_number,date,initial_value,seal_number\n"
        f"install,{GARDEN},garden,U/100001/2024,{on},0.000,PL-654321\n"
    )
    assert (await readings.feed("meters", batch)).status == 201


async def test_an_accepted_installation_changes_the_registry(readings: Readings) -> None:
    await readings.conclude()
    sent = await request(
        readings,
        {
            "kind": "installation",
            "done_on": "2026-03-02",
            "new_serial": "OG-2026-001",
            "initial_value": "0.000",
            "seal_number": "PL-123456",
        },
        photo=PNG,
    )
    assert sent.status == 201, await sent.text()
    submitted = await sent.json()
    assert (
        submitted["status"],
        submitted["contract_number"],
        submitted["has_photo"],
        [h["status"] for h in submitted["history"]],
    ) == ("submitted", "U/100001/2024", True, ["submitted"])
    [event] = await readings.tap.wait_for(events.REQUEST_SUBMITTED)
    assert event.payload["new_serial"] == "OG-2026-001"

    queue = await (
        await readings.client.get(
            "/operator/garden-meter-requests", headers=readings.issuer.operator()
        )
    ).json()
    assert [(q["id"], q["client_number"]) for q in queue["items"]] == [(submitted["id"], "100001")]
    counts = await readings.client.get("/operator/queue-counts", headers=readings.issuer.operator())
    assert (await counts.json())["garden_meter_requests"] == 1
    assert await _mine(readings, "open") == [submitted["id"]]
    accepted = await decide(readings, submitted["id"], "accept")
    assert (await accepted.json())["status"] == "accepted"
    assert await _mine(readings, "open") == []  # the dashboard's "still waiting"
    assert await _mine(readings, "accepted") == [submitted["id"]]

    mine = await (
        await readings.client.get("/me/garden-meter-requests", headers=readings.issuer.customer())
    ).json()
    assert [h["status"] for h in mine["items"][0]["history"]] == ["submitted", "accepted"]
    meters = await (
        await readings.client.get("/me/meters", headers=readings.issuer.customer())
    ).json()
    garden = next(m for m in meters["items"] if m["kind"] == "garden")
    assert (garden["serial"], garden["initial_value"], garden["seal_number"]) == (
        "OG-2026-001",
        "0.000",
        "PL-123456",
    )
    assert garden["garden"] == {
        "sealed_on": "2026-03-02",
        "legalisation_expires_on": "2031-03-02",
        "legalisation_expired": False,
        "next_reading_dates": ["2026-04-15", "2026-09-15"],
    }

    [installed] = await readings.tap.wait_for(events.METER_INSTALLED)
    assert installed.payload == {
        "meter_serial": "OG-2026-001",
        "kind": "garden",
        "contract_number": "U/100001/2024",
        "client_number": "100001",
        "installed_on": "2026-03-02",
        "initial_value": "0.000",
        "seal_number": "PL-123456",
        "legalisation_expires_on": "2031-03-02",
    }
    await readings.tap.wait_for(events.REQUEST_DECIDED, decision="accepted")
    # Billing learns the garden meter's start and from then on its readings (kind garden).
    await readings.tap.wait_for(
        events.READING_ACCEPTED, meter_serial="OG-2026-001", kind="garden", value="0.000"
    )
    assert (await readings.submit(serial="OG-2026-001", value="1.250")).status == 201
    await readings.tap.wait_for(
        events.READING_ACCEPTED, meter_serial="OG-2026-001", value="1.250", kind="garden"
    )
    again = await decide(readings, submitted["id"], "reject", "Za późno.")
    assert (await problem(again, 409))["code"] == "request-decided"


async def test_bad_requests_and_a_rejection_with_its_reason(readings: Readings) -> None:
    await readings.conclude()
    cases = [
        (
            {
                "kind": "installation",
                "done_on": "2026-03-02",
                "new_serial": "OG-1",
                "initial_value": "0.000",
            },
            422,
            {"seal_number": "pole jest wymagane przy zgłoszeniu montażu"},
        ),
        (
            {
                "kind": "removal",
                "done_on": "2026-03-02",
                "old_serial": "OG-1",
                "final_value": "1.000",
                "new_serial": "OG-2",
            },
            422,
            {"new_serial": "pole nie dotyczy zgłoszenia demontażu"},
        ),
        (
            {
                "kind": "installation",
                "done_on": "2999-01-01",
                "new_serial": "OG-1",
                "initial_value": "0,5",
                "seal_number": "PL-1",
            },
            422,
            {"done_on": "data nie może być z przyszłości"},
        ),
        (
            {
                "kind": "installation",
                "done_on": "2026-03-02",
                "new_serial": "og 1",
                "initial_value": "-1",
                "seal_number": "PL-1",
            },
            422,
            {
                "new_serial": "nieprawidłowy numer wodomierza "
                "(wielkie litery, cyfry i -, 3–30 znaków)",
                "initial_value": "stan wodomierza nie może być ujemny",
            },
        ),
        (
            {
                "kind": "installation",
                "done_on": "2026-03-02",
                "new_serial": "WM-100001-1",
                "initial_value": "0.000",
                "seal_number": "PL-1",
            },
            409,
            {"new_serial": "wodomierz o tym numerze jest już zarejestrowany"},
        ),
        (
            {
                "kind": "removal",
                "done_on": "2026-03-02",
                "old_serial": "WM-100001-1",
                "final_value": "9.000",
            },
            422,
            {"old_serial": "to wodomierz główny; jego wymianę lub demontaż przeprowadza Spółka"},
        ),
        (
            {"kind": "demolition", "done_on": "2026-03-02"},
            422,
            {"kind": "dozwolone wartości: installation, replacement, removal"},
        ),
    ]
    for body, status, expected in cases:
        refused = await problem(await request(readings, body), status)
        assert fields_of(refused) == expected, body
    assert await readings.pool.fetchval("SELECT count(*) FROM garden_requests") == 0

    sent = await (
        await request(
            readings,
            {
                "kind": "installation",
                "done_on": "2026-03-02",
                "new_serial": "OG-2026-001",
                "initial_value": "0.000",
                "seal_number": "PL-123456",
            },
        )
    ).json()
    twice = await request(
        readings,
        {
            "kind": "installation",
            "done_on": "2026-03-03",
            "new_serial": "OG-2026-001",
            "initial_value": "0.000",
            "seal_number": "PL-123457",
        },
    )
    assert (await problem(twice, 409))["code"] == "request-pending"
    no_reason = await decide(readings, sent["id"], "reject")
    assert fields_of(await problem(no_reason, 422)) == {"reason": "powód odrzucenia jest wymagany"}
    reason = "Na zdjęciu nie widać numeru plomby."
    assert (await decide(readings, sent["id"], "reject", reason)).status == 200
    mine = await (
        await readings.client.get("/me/garden-meter-requests", headers=readings.issuer.customer())
    ).json()
    shown = mine["items"][0]
    assert (shown["status"], shown["reason"], [h["status"] for h in shown["history"]]) == (
        "rejected",
        reason,
        ["submitted", "rejected"],
    )
    [decided] = await readings.tap.wait_for(events.REQUEST_DECIDED)
    assert (decided.payload["decision"], decided.payload["reason"]) == ("rejected", reason)
    assert await readings.pool.fetchval("SELECT count(*) FROM meters WHERE kind = 'garden'") == 0


async def test_replacement_and_removal(readings: Readings) -> None:
    await readings.conclude()
    await install_garden(readings)
    await seed_history(readings, GARDEN, [(dt.date(2026, 3, 1), "15.000")])
    low = await request(
        readings,
        {
            "kind": "replacement",
            "done_on": "2026-03-05",
            "old_serial": GARDEN,
            "final_value": "14.000",
            "new_serial": "OG-2026-002",
            "initial_value": "0.000",
            "seal_number": "PL-2",
        },
    )
    refused = await problem(low, 422)
    assert fields_of(refused) == {
        "final_value": "stan końcowy 14,000 m³ jest niższy niż ostatni "
        "odczyt 15,000 m³ z dnia 01.03.2026"
    }
    early = await request(
        readings,
        {"kind": "removal", "done_on": "2026-02-27", "old_serial": GARDEN, "final_value": "16.000"},
    )
    assert fields_of(await problem(early, 422)) == {
        "done_on": "wodomierz ma późniejszy odczyt z dnia 01.03.2026"
    }

    replacement = await (
        await request(
            readings,
            {
                "kind": "replacement",
                "done_on": "2026-03-05",
                "old_serial": GARDEN,
                "final_value": "15.500",
                "new_serial": "OG-2026-002",
                "initial_value": "0.000",
                "seal_number": "PL-2",
            },
        )
    ).json()
    assert (await decide(readings, replacement["id"], "accept")).status == 200
    [replaced] = await readings.tap.wait_for(events.METER_REPLACED)
    assert replaced.payload == {
        "old_serial": GARDEN,
        "new_serial": "OG-2026-002",
        "kind": "garden",
        "contract_number": "U/100001/2024",
        "client_number": "100001",
        "replaced_on": "2026-03-05",
        "final_value": "15.500",
        "initial_value": "0.000",
        "seal_number": "PL-2",
        "legalisation_expires_on": "2031-03-05",
    }
    meters = {
        m["serial"]: m
        for m in (
            await (
                await readings.client.get("/me/meters", headers=readings.issuer.customer())
            ).json()
        )["items"]
    }
    assert (
        meters[GARDEN]["status"],
        meters[GARDEN]["replaced_by"],
        meters[GARDEN]["final_value"],
    ) == ("removed", "OG-2026-002", "15.500")
    assert (meters["OG-2026-002"]["status"], meters["OG-2026-002"]["replaces"]) == (
        "installed",
        GARDEN,
    )
    old = await problem(await readings.submit(serial=GARDEN, value="16.000"), 409)
    assert old["code"] == "meter-removed"

    removal = await (
        await request(
            readings,
            {
                "kind": "removal",
                "done_on": "2026-03-09",
                "old_serial": "OG-2026-002",
                "final_value": "1.000",
            },
        )
    ).json()
    assert (await decide(readings, removal["id"], "accept")).status == 200
    [removed] = await readings.tap.wait_for(events.METER_REMOVED)
    assert (removed.payload["meter_serial"], removed.payload["final_value"]) == (
        "OG-2026-002",
        "1.000",
    )
    # Garden water: 15.5 on the old meter and 1 on the new one, nothing across the replacement.
    consumption = await (
        await readings.client.get(
            "/me/consumption?from=2025-05&to=2026-03", headers=readings.issuer.customer()
        )
    ).json()
    assert consumption["total_garden_m3"] == "16.500"
    finals = await readings.pool.fetch(
        "SELECT meter_serial, value FROM readings WHERE role = 'final' ORDER BY read_on"
    )
    assert [(r["meter_serial"], str(r["value"])) for r in finals] == [
        (GARDEN, "15.500"),
        ("OG-2026-002", "1.000"),
    ]


async def test_reminders_before_reading_dates_and_legalisation_expiry(
    readings: Readings,
    database: str,
) -> None:
    await readings.conclude(concluded_on=dt.date(2021, 1, 4))
    await install_garden(readings, on="2021-05-20")  # sealed then: legal until 2026-05-20
    meters = await (
        await readings.client.get("/me/meters", headers=readings.issuer.customer())
    ).json()
    garden = next(m for m in meters["items"] if m["kind"] == "garden")["garden"]
    assert (garden["legalisation_expires_on"], garden["legalisation_expired"]) == (
        "2026-05-20",
        False,
    )

    freeze(dt.date(2026, 4, 8))
    # Two replicas run the scheduler at the same moment: each reminder goes out once.
    second = await db.create_pool(database, min_size=1, max_size=2)
    try:
        runs = await asyncio.gather(
            *(
                scheduler.run_once(
                    pool, readings.outbox, readings.settings, dt.date(2026, 4, 8), clock.now()
                )
                for pool in (readings.pool, second)
            )
        )
    finally:
        await second.close()
    assert sum(runs) == 2
    assert (
        await scheduler.run_once(
            readings.pool, readings.outbox, readings.settings, dt.date(2026, 4, 9), clock.now()
        )
        == 0
    )
    await readings.settled()
    assert [e.payload for e in readings.tap.of(events.READING_DUE)] == [
        {
            "client_number": "100001",
            "contract_number": "U/100001/2024",
            "meter_serial": GARDEN,
            "due_on": "2026-04-15",
            "last_read_on": None,
        }
    ]
    assert [e.payload for e in readings.tap.of(events.LEGALISATION_EXPIRING)] == [
        {
            "client_number": "100001",
            "contract_number": "U/100001/2024",
            "meter_serial": GARDEN,
            "seal_number": "PL-654321",
            "sealed_on": "2021-05-20",
            "expires_on": "2026-05-20",
        }
    ]

    # A reading given in the lead time: no reminder for that date.
    freeze(dt.date(2026, 9, 9))
    assert (await readings.submit(serial=GARDEN, value="3.000", read_on="2026-09-09")).status == 201
    assert (
        await scheduler.run_once(
            readings.pool, readings.outbox, readings.settings, dt.date(2026, 9, 10), clock.now()
        )
        == 0
    )

    # The service's own scheduler (another replica, started with it on) with the clock moved.
    freeze(dt.date(2027, 4, 10))
    replica = settings_for(
        database,
        readings.settings.amqp_url,
        readings.settings.bus_prefix,
        readings.issuer.jwks_url,
        scheduler_enabled=True,
        scheduler_interval=0.2,
    )
    async with running_readings(replica, readings.issuer):
        await readings.tap.wait_for(events.READING_DUE, due_on="2027-04-15")


async def _mine(readings: Readings, status: str) -> list[str]:
    """The ids of the customer's requests with ``?status=``."""
    resp = await readings.client.get(
        f"/me/garden-meter-requests?status={status}", headers=readings.issuer.customer()
    )
    assert resp.status == 200
    return [r["id"] for r in (await resp.json())["items"]]


async def test_customer_request_list_refuses_an_unknown_status(readings: Readings) -> None:
    resp = await readings.client.get(
        "/me/garden-meter-requests?status=lost", headers=readings.issuer.customer()
    )
    assert resp.status in (400, 422)
    assert (await resp.json())["errors"][0]["field"] == "status"
