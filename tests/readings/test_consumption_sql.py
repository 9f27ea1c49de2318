"""The monthly consumption PostgreSQL derives (``readings.repository.monthly_consumption``)
is the rule's Python statement (``readings.consumption.monthly_consumption``) to the litre and
the day: on fixed edge cases (month ends, a leap February, the turn of a year, a meter
replaced on a day, a garden meter, two supply points overlapping, readings on one day,
readings not counted) and on many random histories, under two session time zones."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal as D

import asyncpg
import pytest
from ebok_readings.app import SPEC
from ebok_readings.readings import consumption
from ebok_readings.readings import repository as repo
from ebok_readings.readings.domain import Point
from ebok_shared import db
from ebok_shared.service import migration_folders

AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
SOURCES = ("inspector", "remote", "estimate")

# (serial, kind, contract, [(day, value, role, status, superseded)])
History = list[tuple[str, str, str, list[tuple[dt.date, D, str, str, bool]]]]


@pytest.fixture
async def conn(database: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database)
    try:
        await db.migrate(connection, migration_folders(SPEC))
        yield connection
    finally:
        await connection.close()


async def put(conn: asyncpg.Connection, client: str, history: History) -> None:
    """The client's contracts, meters and readings, as rows."""
    for contract in sorted({h[2] for h in history}):
        await conn.execute(
            "INSERT INTO contracts (contract_number, client_number, concluded_on)"
            " VALUES ($1, $2, '2000-01-01')",
            contract,
            client,
        )
    for serial, kind, contract, points in history:
        await conn.execute(
            "INSERT INTO meters (serial, kind, contract_number, installed_on, registered_by)"
            " VALUES ($1, $2, $3, '2000-01-01', 'test')",
            serial,
            kind,
            contract,
        )
        same_day: dict[dt.date, int] = {}
        for number, (day, value, role, status, superseded) in enumerate(points):
            # One regular reading a day per source (a unique index): up to three a day.
            source = SOURCES[same_day.get(day, 0)] if role == "regular" else "inspector"
            same_day[day] = same_day.get(day, 0) + (role == "regular")
            await conn.execute(
                """INSERT INTO readings (id, meter_serial, contract_number, client_number,
                       value, read_on, source, role, status, submitted_by, submitted_at,
                       superseded_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'test', $10, $11)""",
                uuid.uuid4(),
                serial,
                contract,
                client,
                value,
                day,
                source,
                role,
                status,
                AT + dt.timedelta(seconds=number),
                AT if superseded else None,
            )


def expected(history: History, contract: str | None = None) -> dict[str, consumption.Month]:
    """The Python rule over the readings that count (accepted, live), in register order."""
    series = [
        consumption.Series(
            serial,
            kind,
            tuple(
                Point(day, value, role)
                for day, value, role, status, superseded in points
                if status == "accepted" and not superseded
            ),
        )
        for serial, kind, owner, points in history
        if contract is None or owner == contract
    ]
    return consumption.monthly_consumption(series)


async def derived(
    conn: asyncpg.Connection,
    client: str,
    contract: str | None = None,
    first: str | None = None,
    last: str | None = None,
) -> dict[str, tuple[int, int, int]]:
    rows = await repo.monthly_consumption(conn, client, contract, first, last)
    return {r["month"]: (r["main"], r["garden"], r["days"]) for r in rows}


def flat(months: dict[str, consumption.Month]) -> dict[str, tuple[int, int, int]]:
    return {k: (m.litres["main"], m.litres["garden"], m.days) for k, m in months.items()}


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


EDGE_CASES: History = [
    # Month ends, a leap February, the turn of a year; an interval within one day.
    (
        "WM-1",
        "main",
        "U/1",
        [
            (day("2023-12-20"), D("10.000"), "initial", "accepted", False),
            (day("2024-01-31"), D("30.500"), "regular", "accepted", False),
            (day("2024-03-01"), D("61.001"), "regular", "accepted", False),
            (day("2024-03-01"), D("61.500"), "regular", "accepted", False),
            # Not counted: waiting, rejected, superseded.
            (day("2024-03-10"), D("90.000"), "regular", "to_verify", False),
            (day("2024-03-12"), D("95.000"), "regular", "rejected", False),
            (day("2024-03-15"), D("99.000"), "regular", "accepted", True),
            # Replaced on 2024-04-10: its final reading, the new meter's initial below.
            (day("2024-04-10"), D("70.250"), "final", "accepted", False),
        ],
    ),
    (
        "WM-2",
        "main",
        "U/1",
        [
            (day("2024-04-10"), D("0.000"), "initial", "accepted", False),
            (day("2024-05-31"), D("33.333"), "regular", "accepted", False),
            (day("2024-06-01"), D("33.334"), "regular", "accepted", False),
        ],
    ),
    # A garden meter: its water apart, no day measured by it.
    (
        "OG-1",
        "garden",
        "U/1",
        [
            (day("2024-02-28"), D("1.000"), "initial", "accepted", False),
            (day("2024-09-15"), D("12.345"), "regular", "accepted", False),
        ],
    ),
    # A second supply point overlapping the first in time: its days counted once.
    (
        "WM-3",
        "main",
        "U/2",
        [
            (day("2024-01-15"), D("500.000"), "initial", "accepted", False),
            (day("2024-02-14"), D("507.000"), "regular", "accepted", False),
            (day("2024-12-31"), D("600.000"), "regular", "accepted", False),
            (day("2025-01-01"), D("600.999"), "regular", "accepted", False),
        ],
    ),
]


@pytest.mark.parametrize("zone", ["Europe/Warsaw", "Pacific/Kiritimati"])
async def test_edge_cases_as_the_rule_says(conn: asyncpg.Connection, zone: str) -> None:
    await conn.execute(f"SET TIME ZONE '{zone}'")
    await put(conn, "100001", EDGE_CASES)
    await put(
        conn,
        "100002",
        [
            (
                "WM-9",
                "main",
                "U/9",
                [
                    (day("2024-01-01"), D("1"), "initial", "accepted", False),
                    (day("2024-03-01"), D("99"), "regular", "accepted", False),
                ],
            )
        ],
    )
    found = await derived(conn, "100001")
    assert found == flat(expected(EDGE_CASES))
    # Spot checks of the rule itself, so the two cannot agree on something wrong: January
    # gets 31 of WM-1's 42 days of 20.5 m³ (15,131 l) and 16 of WM-3's 30 days of 7 m³
    # (3,733 l); February's 29 days counted once although both meters measured them.
    assert found["2024-01"] == (15131 + 3733, 0, 31)
    assert found["2024-02"][2] == 29
    assert await derived(conn, "100001", contract="U/2") == flat(expected(EDGE_CASES, "U/2"))
    assert list(await derived(conn, "100001", first="2024-03", last="2024-05")) == [
        "2024-03",
        "2024-04",
        "2024-05",
    ]
    assert await derived(conn, "100003") == {}


def random_history(rng: random.Random, number: int) -> History:
    """One or two supply points, each a chain of meters (a replacement ends one meter with
    its final reading and starts the next with its initial one on the same day), each meter
    read on non-decreasing values at increasing dates; some readings do not count."""
    found: History = []
    for point in range(rng.randint(1, 2)):
        current = dt.date(2020, 1, 1) + dt.timedelta(days=rng.randint(0, 1800))
        meters = rng.randint(1, 3)
        for meter in range(meters):
            kind = rng.choice(["main", "main", "garden"])
            value = D(rng.randint(0, 99_999_999)) / 1000
            points = [(current, value, "initial", "accepted", False)]
            same_day = 1
            for _ in range(rng.randint(0, 9)):
                step = rng.choice([0, 1, 1, 27, 28, 30, 31, 45, 120])
                same_day = same_day + 1 if step == 0 else 1
                if same_day > len(SOURCES):
                    step, same_day = 1, 1
                current += dt.timedelta(days=step)
                value += D(rng.randint(0, 500_000)) / 1000
                status = rng.choice(["accepted"] * 6 + ["to_verify", "rejected"])
                points.append((current, value, "regular", status, rng.random() < 0.1))
            if meter < meters - 1:
                value += D(rng.randint(0, 5_000)) / 1000
                points.append((current, value, "final", "accepted", False))
            found.append((f"M{number}-{point}-{meter}", kind, f"U/{number}/{point}", points))
    return found


async def test_random_histories_as_the_rule_says(conn: asyncpg.Connection) -> None:
    rng = random.Random(17)
    histories = {f"{200000 + n}": random_history(rng, n) for n in range(150)}
    async with conn.transaction():
        for client, history in histories.items():
            await put(conn, client, history)
    for zone in ("Europe/Warsaw", "UTC"):
        await conn.execute(f"SET TIME ZONE '{zone}'")
        for client, history in histories.items():
            assert await derived(conn, client) == flat(expected(history)), client
            contract = history[0][2]
            assert await derived(conn, client, contract) == flat(expected(history, contract))
