"""The back-office feed: batches of readings (inspectors, remote reading) and of meter
installations, replacements and removals, by the operator API and the CLI. A batch applies
whole or not at all, every bad row named by line, field and reason; re-sending changes
nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
from pathlib import Path

from ebok_readings import events
from ebok_shared.clock import clock

from tests.readings.harness import Readings
from tests.support.answers import problem

READINGS_CSV = """meter_serial,read_on,value,source
WM-100001-1,2026-01-31,100.000,inspector
WM-100001-1,2026-02-28,110.500,remote
WM-100001-1,2026-03-09,112.000,estimate
"""
METER_HEADER = (
    "action,serial,kind,contract_number,date,initial_value,final_value,old_serial,seal_number"
)
REPO = Path(__file__).resolve().parents[2]


async def test_a_batch_of_readings_is_applied_once(readings: Readings) -> None:
    await readings.conclude()
    first = await readings.feed("readings", READINGS_CSV)
    assert first.status == 201
    applied = await first.json()
    assert (applied["status"], applied["row_count"], applied["applied"]) == ("applied", 3, 3)
    await readings.tap.wait_for(events.READING_ACCEPTED, count=3)

    again = await readings.feed("readings", READINGS_CSV)
    assert again.status == 200
    repeated = await again.json()
    # the very same bytes: the first answer again, marked as replayed; nothing applied now
    assert (repeated["status"], repeated["replayed"], repeated["batch_id"]) == (
        "applied",
        True,
        applied["batch_id"],
    )
    assert repeated["applied"] == applied["applied"]
    # The same rows in another file (JSON lines), with one new row: only that one applies.
    overlapping = "\n".join(
        json.dumps(r)
        for r in [
            {
                "meter_serial": "WM-100001-1",
                "read_on": "2026-02-28",
                "value": "110.500",
                "source": "remote",
            },
            {
                "meter_serial": "WM-100001-1",
                "read_on": "2026-03-10",
                "value": "112.300",
                "source": "remote",
            },
        ]
    )
    third = await (await readings.feed("readings", overlapping, "application/x-ndjson")).json()
    assert (third["applied"], third["unchanged"]) == (1, 1)
    rows = await readings.readings_of("WM-100001-1")
    assert [(str(r["value"]), r["source"]) for r in rows] == [
        ("100.000", "inspector"),
        ("110.500", "remote"),
        ("112.000", "estimate"),
        ("112.300", "remote"),
    ]
    await readings.settled()
    assert len(readings.tap.of(events.READING_ACCEPTED)) == 4


async def test_a_batch_with_errors_applies_nothing(readings: Readings) -> None:
    await readings.conclude()
    batch = """meter_serial,read_on,value,source
WM-100001-1,2026-01-31,100.000,inspector
WM-999999-9,2026-01-31,5.000,inspector
WM-100001-1,2026-02-28,99.000,remote
WM-100001-1,2999-01-01,120.12345,customer
WM-100001-1,2026-03-01,abc,remote
"""
    refused = await problem(await readings.feed("readings", batch), 422)
    assert refused["code"] == "feed-batch-rejected"
    assert refused["errors"] == [
        {"line": 3, "field": "meter_serial", "reason": "nieznany wodomierz"},
        {
            "line": 4,
            "field": "value",
            "reason": "stan 99,000 m³ jest niższy niż poprzedni odczyt 100,000 m³ "
            "z dnia 31.01.2026",
        },
        {
            "line": 5,
            "field": "value",
            "reason": "najwyżej 3 cyfry po przecinku (dokładność do 0,001 m³)",
        },
        {
            "line": 6,
            "field": "value",
            "reason": "to nie jest liczba (podaj stan w m³, np. 123.456)",
        },
    ]
    assert await readings.readings_of("WM-100001-1") == []
    assert await readings.pool.fetchval("SELECT count(*) FROM outbox") == 0
    applied = "SELECT count(*) FROM back_office_batches WHERE status = 'applied'"
    assert await readings.pool.fetchval(applied) == 0

    columns = await problem(await readings.feed("readings", "meter,value\nWM-1,1\n"), 422)
    assert {"line": 1, "field": "meter", "reason": "nieznana kolumna"} in columns["errors"]
    not_utf8 = await problem(await readings.feed("readings", "x"), 422)
    assert not_utf8["code"] == "feed-batch-rejected"
    wrong_type = await readings.client.post(
        "/operator/feed/readings",
        data=b"<xml/>",
        headers={**readings.issuer.operator(), "Content-Type": "application/xml"},
    )
    assert (await problem(wrong_type, 415))["code"] == "unsupported-media-type"


async def test_a_batch_of_meter_installations_replacements_and_removals(
    readings: Readings,
) -> None:
    await readings.conclude(serials=("WM-100001-1",))
    batch = f"""{METER_HEADER}
install,WM-100001-1,main,U/100001/2024,2024-01-15,0.000,,,
install,OG-2025-001,garden,U/100001/2024,2025-04-01,0.000,,,PL-1
replace,WM-100001-2,,,2026-02-01,0.000,250.000,WM-100001-1,
remove,OG-2025-001,,,2025-10-31,,40.250,,
"""
    done = await readings.feed("meters", batch)
    assert done.status == 201, await done.text()
    assert (await done.json())["applied"] == 4
    assert (await readings.feed("meters", batch)).status == 200
    # Overlapping with what is recorded: restated rows change nothing.
    restated = "\n".join(batch.splitlines()[:3]) + "\n"
    again = await (await readings.feed("meters", restated)).json()
    assert (again["applied"], again["unchanged"]) == (0, 2)

    [_, installed_garden] = await readings.tap.wait_for(events.METER_INSTALLED, 2)
    assert installed_garden.payload["legalisation_expires_on"] == "2030-04-01"
    [replaced] = await readings.tap.wait_for(events.METER_REPLACED)
    assert (
        replaced.payload["old_serial"],
        replaced.payload["new_serial"],
        replaced.payload["final_value"],
    ) == ("WM-100001-1", "WM-100001-2", "250.000")
    [removed] = await readings.tap.wait_for(events.METER_REMOVED)
    assert removed.payload["meter_serial"] == "OG-2025-001"

    history = await (
        await readings.client.get(
            "/operator/meters/WM-100001-1", headers=readings.issuer.operator()
        )
    ).json()
    assert (history["status"], history["replaced_by"], history["client_number"]) == (
        "removed",
        "WM-100001-2",
        "100001",
    )
    assert [(r["role"], r["value"]) for r in history["readings"]] == [
        ("initial", "0.000"),
        ("final", "250.000"),
    ]

    bad = f"""{METER_HEADER}
install,WM-300003-1,main,U/999/2024,2025-01-01,0.000,,,
remove,WM-100001-2,,,2026-01-15,,1.000,,
replace,OG-2026-009,,,2026-03-01,0.000,1.000,OG-2025-001,
"""
    refused = await problem(await readings.feed("meters", bad), 422)
    assert refused["errors"] == [
        {"line": 2, "field": "contract_number", "reason": "nieznana umowa"},
        {
            "line": 3,
            "field": "date",
            "reason": "data jest wcześniejsza niż montaż wodomierza (01.02.2026)",
        },
        {"line": 4, "field": "serial", "reason": "wodomierz zdemontowany"},
    ]


async def test_the_feed_from_the_command_line(readings: Readings, tmp_path: Path) -> None:
    await readings.conclude()
    good = tmp_path / "odczyty.csv"
    good.write_text(READINGS_CSV, encoding="utf-8")
    bad = tmp_path / "bledne.jsonl"
    bad.write_text('{"meter_serial": "WM-100001-1", "read_on": "2026-01-31"}\n', encoding="utf-8")
    env = {
        **os.environ,
        "EBOK_DATABASE_URL": readings.settings.database_url,
        "EBOK_LOG_LEVEL": "WARNING",
    }

    async def cli(*args: str) -> tuple[int, dict[str, object]]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ebok_readings",
            "feed",
            *args,
            cwd=REPO,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        assert process.returncode is not None, err
        return process.returncode, json.loads(out.decode().strip().splitlines()[-1])

    code, result = await cli("readings", str(good), "--by", "nightly-job")
    assert (code, result["status"], result["applied"]) == (0, "applied", 3)
    code, result = await cli("readings", str(bad))
    assert code == 1
    assert result["errors"] == [{"line": 1, "field": "value", "reason": "pole jest wymagane"}]
    # What the CLI committed reaches the broker through the running service's relay.
    await readings.tap.wait_for(events.READING_ACCEPTED, count=3)
    recorded = "SELECT submitted_by FROM back_office_batches WHERE status = 'applied'"
    assert await readings.pool.fetchval(recorded) == "cli:nightly-job"


async def test_the_batch_history_with_each_bad_row(readings: Readings) -> None:
    await readings.conclude()
    bad = READINGS_CSV.replace("2026-02-28,110.500", "2026-02-30,110.500")
    rejected = await readings.feed("readings", bad)
    assert rejected.status == 422
    assert await readings.readings_of("WM-100001-1") == []  # nothing applied
    clock.advance(dt.timedelta(minutes=5))  # the tests' clock stands still otherwise
    applied = await readings.feed("readings", READINGS_CSV)
    assert applied.status == 201

    history = await readings.client.get(
        "/operator/feed/batches", headers=readings.issuer.operator()
    )
    listed = await history.json()
    assert listed["total"] == 2
    assert [(b["kind"], b["status"], b["row_count"]) for b in listed["items"]] == [
        ("readings", "applied", 3),
        ("readings", "rejected", 3),
    ]
    assert listed["items"][0]["submitted_by"] == "operator:op-1"
    one = await readings.client.get(
        f"/operator/feed/batches/{listed['items'][1]['batch_id']}",
        headers=readings.issuer.operator(),
    )
    [error] = (await one.json())["errors"]
    assert (error["line"], error["field"]) == (3, "read_on")
    missing = await readings.client.get(
        "/operator/feed/batches/00000000-0000-0000-0000-000000000001",
        headers=readings.issuer.operator(),
    )
    assert missing.status == 404
