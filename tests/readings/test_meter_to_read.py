"""``meters.repository.meter_to_read`` (migrations 0003-0005): the meter locked and, read
after the lock, everything a customer's reading is judged against, in one round trip (or
the same read without the lock, before a statement guarded by ``readings_unchanged``). Its
registers are read after the lock: a reading committed while it waited is among them. A
reading recorded by one statement guarded by ``readings_unchanged`` is written only if the
meter's state is still the one it was judged on: its fingerprint changes with everything
the reading was judged on, and with nothing else. Of the meter's registers it reads those
the rules read (migration 0005), and the rules find on them what they find on all."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal as D

import asyncpg
import pytest
from ebok_readings import events
from ebok_readings.app import SPEC
from ebok_readings.meters import repository as meters_repo
from ebok_readings.readings import domain as reading_rules
from ebok_readings.readings import repository as readings_repo
from ebok_readings.readings import use_cases
from ebok_readings.readings.domain import Point, Reading, Rules
from ebok_readings.readings.use_cases import Registers
from ebok_readings.settings import ReadingsSettings
from ebok_shared import db
from ebok_shared.bus import Outbox
from ebok_shared.refusals import Refusal
from ebok_shared.service import migration_folders

from tests.readings.harness import freeze
from tests.support.waiting import eventually

AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
WINDOW = 365  # the baseline's window (days), as the settings have it
SERIAL, CLIENT = "WM-100001-1", "100001"


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    found = await db.create_pool(database, min_size=2, max_size=3)
    async with found.acquire() as conn:
        await db.migrate(conn, migration_folders(SPEC))
        await conn.execute(
            "INSERT INTO contracts (contract_number, client_number, concluded_on)"
            " VALUES ('U/1', $1, '2025-01-01')",
            CLIENT,
        )
        await conn.execute(
            "INSERT INTO meters (serial, kind, contract_number, installed_on, registered_by)"
            " VALUES ($1, 'main', 'U/1', '2025-01-01', 'test')",
            SERIAL,
        )
    try:
        yield found
    finally:
        await found.close()


async def add(
    conn: asyncpg.Connection,
    day: str,
    value: str,
    *,
    source: str = "inspector",
    status: str = "accepted",
    key: str | None = None,
) -> uuid.UUID:
    reading_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO readings (id, meter_serial, contract_number, client_number, value,
               read_on, source, status, submitted_by, submitted_at, idempotency_key)
           VALUES ($1, $2, 'U/1', $3, $4, $5, $6, $7, 'test', clock_timestamp(), $8)""",
        reading_id,
        SERIAL,
        CLIENT,
        D(value),
        dt.date.fromisoformat(day),
        source,
        status,
        key,
    )
    return reading_id


async def test_what_a_reading_is_judged_against(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        first = await add(conn, "2025-01-01", "10.000")
        await add(conn, "2025-03-01", "30.000", status="rejected")
        live = await add(conn, "2025-02-01", "20.000", source="customer", key="k-1")
        async with conn.transaction():
            found = await meters_repo.meter_to_read(
                conn, SERIAL, CLIENT, dt.date(2025, 2, 1), "k-1", WINDOW
            )
            assert found is not None
            assert (found["kind"], found["contract_number"], found["concluded_on"]) == (
                "main",
                "U/1",
                dt.date(2025, 1, 1),
            )
            assert (found["window_mode"], found["window_opens"]) == ("always", [])
            assert found["done_id"] == live
            # The registers without the day's live reading, which a new one replaces.
            assert found["point_ids"] == [first]
            assert found["point_values"] == [D("10.000")]
            assert (found["live_id"], found["live_billed_at"]) == (live, None)
            assert list(Registers(found)) == [Point(dt.date(2025, 1, 1), D("10.000"))]
        async with conn.transaction():
            other_day = await meters_repo.meter_to_read(
                conn, SERIAL, CLIENT, dt.date(2025, 2, 2), None, WINDOW
            )
            assert other_day is not None
            assert (other_day["live_id"], other_day["done_id"]) == (None, None)
            kept = Registers(other_day)
            assert [p.value for p in kept] == [D("10.000"), D("20.000")]
            assert (kept[-1], list(kept[1:])) == (kept[1], [kept[1]])
            with pytest.raises(IndexError):
                kept[2]
            assert (
                await meters_repo.meter_to_read(conn, SERIAL, "999999", AT.date(), None, WINDOW)
                is None
            )
            assert (
                await meters_repo.meter_to_read(conn, "WM-NONE", CLIENT, AT.date(), None, WINDOW)
                is None
            )


async def test_a_reading_committed_while_waiting_for_the_lock_is_judged_against(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as holder, pool.acquire() as waiter:
        waiter_pid = waiter.get_server_pid()
        holding = holder.transaction()
        await holding.start()
        assert await meters_repo.meter_to_read(holder, SERIAL, CLIENT, AT.date(), None, WINDOW)
        committed = await add(holder, "2025-06-01", "50.000")

        async def judged_against() -> list[uuid.UUID]:
            async with waiter.transaction():
                found = await meters_repo.meter_to_read(
                    waiter, SERIAL, CLIENT, AT.date(), None, WINDOW
                )
                assert found is not None
                return list(found["point_ids"])

        waiting = asyncio.ensure_future(judged_against())

        async def blocked() -> bool:
            wait = await holder.fetchval(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", waiter_pid
            )
            return bool(wait == "Lock")

        await eventually(blocked, "the second reader waiting for the meter's lock")
        await holding.commit()
        assert await waiting == [committed]


async def test_read_without_the_lock_is_the_locked_read_and_writes_nothing(
    pool: asyncpg.Pool,
) -> None:
    """Migration 0004: the same row (and so the same fingerprint for ``readings_unchanged``)
    as the locked read, without taking a transaction id (nothing to flush at commit) and
    without waiting for a transaction that holds the meter's lock."""
    async with pool.acquire() as holder, pool.acquire() as reader:
        await add(holder, "2025-01-01", "10.000")
        live = await add(holder, "2025-02-01", "20.000", source="customer", key="k-1")
        async with holder.transaction():
            locked = await meters_repo.meter_to_read(
                holder, SERIAL, CLIENT, dt.date(2025, 2, 1), "k-1", WINDOW
            )
            assert locked is not None and locked["done_id"] == live
            async with reader.transaction():
                # Waiting for the holder's lock would fail at once rather than hang.
                await reader.execute("SET LOCAL lock_timeout = '1ms'")
                unlocked = await meters_repo.meter_to_read(
                    reader, SERIAL, CLIENT, dt.date(2025, 2, 1), "k-1", WINDOW, lock=False
                )
                assert await reader.fetchval("SELECT pg_current_xact_id_if_assigned()") is None
        assert unlocked is not None
        assert dict(unlocked) == dict(locked)
        for client, serial in (("999999", SERIAL), (CLIENT, "WM-NONE")):
            assert (
                await meters_repo.meter_to_read(
                    reader, serial, client, AT.date(), None, WINDOW, lock=False
                )
                is None
            )


async def test_a_guarded_reading_is_recorded_only_on_the_state_it_was_judged_on(
    pool: asyncpg.Pool,
) -> None:
    outbox = Outbox()
    day = dt.date(2025, 7, 1)
    async with pool.acquire() as conn, pool.acquire() as other:
        await add(conn, "2025-01-01", "10.000")
        # Read as the use case reads it before a guarded statement: without the lock.
        seen = await meters_repo.meter_to_read(conn, SERIAL, CLIENT, day, None, WINDOW, lock=False)
        assert seen is not None
        fingerprint = seen["fingerprint"]

        async def record(value: str) -> asyncpg.Record | None:
            reading = Reading(
                uuid.uuid4(), SERIAL, "U/1", CLIENT, D(value), day, "customer", None, None
            )
            return await readings_repo.insert_reading_with_events(
                conn,
                outbox,
                events.reading_recorded(reading, "main", "accepted", None),
                (SERIAL, CLIENT, day, None, WINDOW, fingerprint),
                id=reading.id,
                meter_serial=SERIAL,
                contract_number="U/1",
                client_number=CLIENT,
                value=reading.value,
                read_on=day,
                source="customer",
                status="accepted",
                submitted_by=f"customer:{CLIENT}",
                submitted_at=AT,
            )

        # Another reading came in after this one was judged: nothing is written.
        await add(other, "2025-06-01", "50.000")
        assert await record("20.000") is None
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
        assert await conn.fetchval("SELECT count(*) FROM readings WHERE value = 20") == 0

        # Judged again on the state as it is, the reading and its event are written.
        seen = await meters_repo.meter_to_read(conn, SERIAL, CLIENT, day, None, WINDOW, lock=False)
        assert seen is not None and len(seen["point_ids"]) == 2
        fingerprint = seen["fingerprint"]
        row = await record("60.000")
        assert row is not None and row["value"] == D("60.000")
        assert await conn.fetchval("SELECT event_type FROM outbox") == events.READING_ACCEPTED


# What a customer's reading of DAY under key "k-2" is judged on, changed by another
# connection after it was judged: each one refuses the guard.
DAY = dt.date(2025, 7, 1)
CHANGES = {
    "a register added": [
        "INSERT INTO readings (id, meter_serial, contract_number, client_number, value,"
        " read_on, source, status, submitted_by, submitted_at) VALUES (gen_random_uuid(),"
        " 'WM-100001-1', 'U/1', '100001', 15, '2025-03-01', 'inspector', 'accepted', 'test',"
        " now())"
    ],
    "a register rejected": ["UPDATE readings SET status = 'rejected' WHERE value = 10"],
    "a register superseded": ["UPDATE readings SET superseded_at = now() WHERE value = 10"],
    "a register's value": ["UPDATE readings SET value = 11 WHERE value = 10"],
    "the day's reading billed": ["UPDATE readings SET billed_at = now() WHERE value = 20"],
    "the day's reading rejected": ["UPDATE readings SET status = 'rejected' WHERE value = 20"],
    "the meter removed": [
        "UPDATE meters SET removed_on = '2025-08-01', final_value = 30 WHERE serial = 'WM-100001-1'"
    ],
    "the contract terminated": ["UPDATE contracts SET terminated_on = '2025-08-01'"],
    "reading windows": [
        "UPDATE reading_window_mode SET mode = 'windows'",
        "INSERT INTO reading_windows (opens_on, closes_on) VALUES ('2025-07-01', '2025-07-10')",
    ],
    "the key's reading on another meter": [
        "INSERT INTO meters (serial, kind, contract_number, installed_on, registered_by)"
        " VALUES ('WM-100001-2', 'garden', 'U/1', '2025-01-01', 'test')",
        "INSERT INTO readings (id, meter_serial, contract_number, client_number, value,"
        " read_on, source, status, submitted_by, submitted_at, idempotency_key) VALUES"
        " (gen_random_uuid(), 'WM-100001-2', 'U/1', '100001', 1, '2025-07-01', 'customer',"
        " 'accepted', 'test', now(), 'k-2')",
    ],
}
# Changes to nothing a reading is judged on: the guard lets it be written.
UNRELATED = {
    "an earlier register billed": ["UPDATE readings SET billed_at = now() WHERE value = 10"],
    "who submitted": ["UPDATE readings SET submitted_by = 'customer:account-deleted'"],
    "another meter's register": [
        "INSERT INTO meters (serial, kind, contract_number, installed_on, registered_by)"
        " VALUES ('WM-100001-2', 'garden', 'U/1', '2025-01-01', 'test')",
        "INSERT INTO readings (id, meter_serial, contract_number, client_number, value,"
        " read_on, source, status, submitted_by, submitted_at) VALUES (gen_random_uuid(),"
        " 'WM-100001-2', 'U/1', '100001', 1, '2025-03-01', 'inspector', 'accepted', 'test',"
        " now())",
    ],
}


@pytest.mark.parametrize(
    ("change", "refused"),
    [(name, True) for name in CHANGES] + [(name, False) for name in UNRELATED],
)
async def test_the_guard_refuses_a_change_to_what_the_reading_was_judged_on(
    pool: asyncpg.Pool, change: str, refused: bool
) -> None:
    """Each change above, committed between the unlocked read and the guard, refuses it (the
    reading is then decided again under the lock); the unrelated ones do not."""
    async with pool.acquire() as conn, pool.acquire() as other:
        await add(conn, "2025-01-01", "10.000")
        await add(conn, DAY.isoformat(), "20.000", source="customer", key="k-1")
        seen = await meters_repo.meter_to_read(conn, SERIAL, CLIENT, DAY, "k-2", WINDOW, lock=False)
        assert seen is not None
        args = (SERIAL, CLIENT, DAY, "k-2", WINDOW, seen["fingerprint"])
        guard = "SELECT readings_unchanged($1, $2, $3, $4, $5, $6)"
        async with conn.transaction():
            assert await conn.fetchval(guard, *args) is True
        for sql in (CHANGES | UNRELATED)[change]:
            await other.execute(sql)
        async with conn.transaction():
            assert await conn.fetchval(guard, *args) is (not refused)
        # Read again, the state as it is now passes.
        again = await meters_repo.meter_to_read(
            conn, SERIAL, CLIENT, DAY, "k-2", WINDOW, lock=False
        )
        assert again is not None
        assert (again["fingerprint"] == seen["fingerprint"]) is (not refused)
        async with conn.transaction():
            assert await conn.fetchval(guard, *args[:5], again["fingerprint"]) is True


async def test_a_reading_whose_meter_changed_meanwhile_is_decided_again_under_the_lock(
    pool: asyncpg.Pool, database: str
) -> None:
    """The use case: the reading is judged on the meter as it was read without the lock; a
    register committed before its guarded statement got the lock refuses the guard, and the
    reading is decided again, under the lock, on the meter as it is (here: below the new
    register, so refused, and nothing written)."""
    freeze()
    rules = Rules.from_settings(ReadingsSettings(database_url=database))
    async with pool.acquire() as conn:
        await add(conn, "2025-01-01", "10.000")
    holder = await pool.acquire()
    try:
        holding = holder.transaction()
        await holding.start()
        # The register, uncommitted, with the meter's lock held (as every writer holds it).
        await holder.execute("SELECT 1 FROM meters WHERE serial = $1 FOR UPDATE", SERIAL)
        await add(holder, "2025-06-01", "50.000")
        submitting = asyncio.ensure_future(
            use_cases.submit_reading(
                pool,
                Outbox(),
                rules,
                use_cases.SubmitReading(CLIENT, SERIAL, D("20.000"), DAY),
            )
        )

        async def blocked() -> bool:
            waiting = await pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            )
            return bool(waiting)

        # Judged on the unlocked read (10.000 only: 20.000 passes), the guard waits.
        await eventually(blocked, "the reading's guarded statement waiting for the lock")
        await holding.commit()
        with pytest.raises(Refusal) as refused:
            await submitting
        assert refused.value.code == "reading-below-previous"
        assert await holder.fetchval("SELECT count(*) FROM readings WHERE value = 20") == 0
        assert await holder.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await pool.release(holder)
    # Once more, now that it is judged on the new register: written, with its event.
    row = await use_cases.submit_reading(
        pool, Outbox(), rules, use_cases.SubmitReading(CLIENT, SERIAL, D("60.000"), DAY)
    )
    assert row["value"] == D("60.000")
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 1


async def test_a_page_of_history_with_the_meters_check_in_one_query(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        since = dt.date(2025, 1, 1)
        assert await readings_repo.client_readings_page(conn, SERIAL, CLIENT, 20, 0) == (
            since,
            0,
            [],
        )
        older = await add(conn, "2025-02-01", "10.000")
        newer = await add(conn, "2025-03-01", "20.000")
        for offset, expected in ((0, newer), (1, older)):
            found = await readings_repo.client_readings_page(conn, SERIAL, CLIENT, 1, offset)
            assert found is not None
            assert (found[0], found[1], [r["id"] for r in found[2]]) == (since, 2, [expected])
        # Past the end, another client's meter, no such meter: asked apart by the use case.
        assert await readings_repo.client_readings_page(conn, SERIAL, CLIENT, 1, 2) is None
        assert await readings_repo.client_readings_page(conn, SERIAL, "999999", 20, 0) is None
        assert await readings_repo.client_readings_page(conn, "WM-NONE", CLIENT, 20, 0) is None


# -- the registers read (migration 0005): the rules find on them what they find on all ---------


def _verdict(points: list[Point], value: D, day: dt.date, rules: Rules) -> object:
    try:
        return reading_rules.judge(points, value, day, "main", rules)
    except Refusal as exc:
        return (exc.code, exc.detail)


async def _random_history(conn: asyncpg.Connection, rng: random.Random, serial: str) -> None:
    """A meter's readings as they come: an initial one, then regular ones (some days two, of
    several sources, some of them the customer's), a final one now and then; some waiting,
    rejected or superseded, values mostly rising."""
    await conn.execute(
        "INSERT INTO meters (serial, kind, contract_number, installed_on, registered_by)"
        " VALUES ($1, 'main', 'U/1', '2020-01-01', 'test')",
        serial,
    )
    day, value = dt.date(2020, 1, 1) + dt.timedelta(rng.randrange(60)), D(rng.randrange(1000))
    for i in range(rng.randrange(1, 40)):
        role = "initial" if i == 0 else rng.choice(["regular"] * 8 + ["final", "initial"])
        source = rng.choice(["customer", "customer", "inspector", "remote", "estimate"])
        status = rng.choice(["accepted"] * 6 + ["to_verify", "rejected"])
        await conn.execute(
            """INSERT INTO readings (id, meter_serial, contract_number, client_number, value,
                   read_on, source, role, status, submitted_by, submitted_at, superseded_at)
               VALUES (gen_random_uuid(), $1, 'U/1', $2, $3, $4, $5, $6, $7, 'test',
                       $8, $9)
               ON CONFLICT DO NOTHING""",
            serial,
            CLIENT,
            value,
            day,
            source,
            role,
            status,
            AT + dt.timedelta(seconds=rng.randrange(100)),
            AT if rng.random() < 0.1 else None,
        )
        day += dt.timedelta(days=rng.choice([0, 0, 1, 7, 30, 31, 90, 200, 400]))
        value += D(rng.randrange(0, 300_000)) / 1000


async def test_the_registers_read_give_the_verdict_all_registers_give(pool: asyncpg.Pool) -> None:
    """On random histories, a reading of days before, among, on and after the registers,
    with a baseline over a long and a short window: the verdict (or refusal) on the
    registers ``meter_to_read`` reads is the one on all the meter's accepted live registers
    (without the customer's live reading of the day)."""
    rng = random.Random(17)
    settings = ReadingsSettings(database_url="postgresql://unused")
    compared, sizes = 0, [0, 0]  # registers read, registers of the meter
    async with pool.acquire() as conn:
        for case in range(60):
            serial = f"WM-TEST-{case}"
            await _random_history(conn, rng, serial)
            days = [r["read_on"] for r in await readings_repo.meter_readings(conn, serial)]
            for _ in range(8):
                day = rng.choice(days) + dt.timedelta(days=rng.choice([-400, -1, 0, 0, 1, 100]))
                value = D(rng.randrange(0, 30_000_000)) / 1000
                for window in (WINDOW, rng.choice([1, 30, 100])):
                    rules = Rules.from_settings(settings)
                    rules = Rules(rules.thresholds, window, 30, rules.legalisation_years)
                    found = await meters_repo.meter_to_read(
                        conn, serial, CLIENT, day, None, window, lock=False
                    )
                    assert found is not None
                    every = [
                        Point(r["read_on"], r["value"], r["role"])
                        for r in await readings_repo.accepted_points(conn, serial)
                        if r["id"] != found["live_id"]
                    ]
                    read = Registers(found)
                    sizes[0] += len(read)
                    sizes[1] += len(every)
                    assert _verdict(list(read), value, day, rules) == _verdict(
                        every, value, day, rules
                    ), (serial, day, value, window)
                    compared += 1
    assert compared == 60 * 8 * 2
    assert sizes[0] < sizes[1] / 2, sizes  # not the whole history
