"""Readings: a customer's reading (the whole use case, in one transaction), a reading in the
caller's transaction (the feed's), an operator's decision, and what customers and operators
read about readings, consumption and the reading windows."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import overload

import asyncpg
from ebok_shared.bus import Outbox
from ebok_shared.clock import clock
from ebok_shared.refusals import Refusal

from .. import events
from ..clients import repository as clients_repo
from ..common.connection import Record
from ..common.values import Photo
from ..meters import domain as meters
from ..meters import repository as meters_repo
from . import consumption
from . import domain as reading_rules
from . import repository as repo
from .domain import Point, Reading, Rules, Window, WindowState


@dataclass(frozen=True)
class SubmitReading:
    """A customer's reading of one of their meters, as the request gave it."""

    client_number: str
    serial: str
    value: Decimal
    read_on: dt.date
    confirm_unusual: bool = False
    photo: Photo | None = None
    idempotency_key: str | None = None


async def submit_reading(
    pool: asyncpg.Pool, outbox: Outbox, rules: Rules, cmd: SubmitReading
) -> Record:
    """The reading as recorded; the same one again for a repeated idempotency key. The
    meter's readings are decided one at a time, each on the meter's state under its lock:
    the reading window, the photo, the rules, the row and its events.

    Most readings take two round trips and no BEGIN/COMMIT: one statement reads the meter's
    state (without its lock: locking would make the read a write, committed with a WAL
    flush of its own), the rules judge, and one statement records the row and its events
    only if, with the meter locked to its end, the state is still the one judged
    (``readings_unchanged``). A reading with a photo, one replacing the day's reading
    (several statements), or one whose meter changed meanwhile (another reading of it
    committed between the two) is decided in one transaction holding the lock throughout."""
    today, now = clock.today(), clock.now()
    if cmd.photo is None:
        async with pool.acquire() as conn:
            done = await _submit(conn, outbox, rules, cmd, today, now, in_one_statement=True)
        if done is not None:
            return done
    async with pool.acquire() as conn, conn.transaction():
        done = await _submit(conn, outbox, rules, cmd, today, now, in_one_statement=False)
        assert done is not None
        return done


async def _submit(
    conn: asyncpg.Connection,
    outbox: Outbox,
    rules: Rules,
    cmd: SubmitReading,
    today: dt.date,
    now: dt.datetime,
    *,
    in_one_statement: bool,
) -> Record | None:
    """``submit_reading`` on ``conn``: in the caller's transaction, or (``in_one_statement``)
    recorded by one guarded statement; None if that could not be (decide it in a
    transaction)."""
    key = cmd.idempotency_key
    # The meter (locked in a transaction), the window, the key's reading and the registers:
    # one round trip.
    window = rules.baseline_window_days
    meter = await meters_repo.meter_to_read(
        conn, cmd.serial, cmd.client_number, cmd.read_on, key, window, lock=not in_one_statement
    )
    if key is not None:
        # A repeated key: the reading recorded the first time (looked up by the key alone
        # when the meter is no longer the client's, as it was before the lock).
        if meter is None:
            done = await repo.reading_by_key(conn, cmd.client_number, key)
        elif meter["done_id"] is not None:
            done = await repo.reading_by_id(conn, meter["done_id"])
        else:
            done = None
        if done is not None:
            return done
    if meter is None:
        raise meters.not_yours(cmd.serial)
    state = reading_rules.window_state(
        str(meter["window_mode"]),
        [Window(*w) for w in zip(meter["window_opens"], meter["window_closes"], strict=True)],
        today,
    )
    if not state.open:
        raise reading_rules.window_closed(state)
    photo_id = await save_photo(conn, cmd.client_number, cmd.photo, now)
    return await record_reading(
        conn,
        outbox,
        rules,
        meter,
        value=cmd.value,
        read_on=cmd.read_on,
        source="customer",
        submitted_by=f"customer:{cmd.client_number}",
        today=today,
        now=now,
        confirm_unusual=cmd.confirm_unusual,
        photo_id=photo_id,
        idempotency_key=key,
        registers=Registers(meter),
        unchanged=(
            (cmd.serial, cmd.client_number, cmd.read_on, key, window, meter["fingerprint"])
            if in_one_statement
            else None
        ),
    )


class Registers(Sequence[Point]):
    """What a customer's reading is judged against, as ``meter_to_read`` read it (with the
    meter's lock, or without it for a statement guarded by ``readings_unchanged``): of the
    accepted live registers, in register order, those the rules read, without the
    customer's live reading of the day (``live_id``, which a new one replaces). Each Point
    is built only when the rules read it: they bisect."""

    def __init__(self, row: Record) -> None:
        self.days: list[dt.date] = row["point_days"]
        self.values: list[Decimal] = row["point_values"]
        self.roles: list[str] = row["point_roles"]
        self.live_id: uuid.UUID | None = row["live_id"]
        self.live_billed_at: dt.datetime | None = row["live_billed_at"]

    def __len__(self) -> int:
        return len(self.days)

    @overload
    def __getitem__(self, index: int) -> Point: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Point]: ...
    def __getitem__(self, index: int | slice) -> Point | Sequence[Point]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        at = index + len(self) if index < 0 else index
        if not 0 <= at < len(self):
            raise IndexError(index)
        return Point(self.days[at], self.values[at], self.roles[at])


async def save_photo(
    conn: asyncpg.Connection, client_number: str, photo: Photo | None, now: dt.datetime
) -> uuid.UUID | None:
    if photo is None:
        return None
    photo_id = uuid.uuid4()
    await repo.insert_photo(
        conn, photo_id, client_number, photo.content_type, photo.data, photo.sha256, now
    )
    return photo_id


def points(rows: list[Record], without: uuid.UUID | None = None) -> list[Point]:
    return [Point(r["read_on"], r["value"], r["role"]) for r in rows if r["id"] != without]


async def record_reading(
    conn: asyncpg.Connection,
    outbox: Outbox,
    rules: Rules,
    meter: Record,
    *,
    value: Decimal,
    read_on: dt.date,
    source: str,
    submitted_by: str,
    today: dt.date,
    now: dt.datetime,
    confirm_unusual: bool = False,
    photo_id: uuid.UUID | None = None,
    idempotency_key: str | None = None,
    registers: Registers | None = None,
    unchanged: tuple[str, str, dt.date, str | None, int, str] | None = None,
) -> Record | None:
    """A regular reading of ``meter`` (locked by the caller), in the caller's transaction.
    A customer's second reading of a day replaces the first unless billed; a customer's
    implausible reading needs ``confirm_unusual`` and then waits for an operator. A
    customer's reading comes with its ``registers`` (read with the lock). ``unchanged``:
    not in a transaction, the row recorded by one statement guarded by
    ``readings_unchanged`` with these arguments; None if the meter changed since it was
    read, or the reading replaces another (decide it in a transaction then)."""
    meters.check_readable(meter, source, read_on)
    reading_rules.check_date(meters.facts(meter), read_on, today)
    replaced = None
    if source == "customer":
        assert registers is not None, "a customer's reading comes with its registers"
        replaced = registers.live_id
        if replaced is not None and registers.live_billed_at is not None:
            raise reading_rules.already_billed(read_on)
        judged: Sequence[Point] = registers
    else:
        judged = points(await repo.accepted_points(conn, meter["serial"]))
    verdict = reading_rules.judge(judged, value, read_on, meter["kind"], rules)
    status = reading_rules.status(verdict, source, confirm_unusual)

    if replaced is not None:
        if unchanged is not None:
            return None  # superseding takes several statements
        await repo.start_superseding(conn, replaced, now)
    # The events are built before the row (everything they say is known by now), so the
    # row and its events go in one statement.
    reading = Reading(
        uuid.uuid4(),
        meter["serial"],
        meter["contract_number"],
        meter["client_number"],
        value,
        read_on,
        source,
        verdict.daily,
        verdict.baseline,
    )
    leak = (
        (verdict.daily, verdict.baseline)
        if verdict.leak and verdict.daily is not None and verdict.baseline is not None
        else None
    )
    row = await repo.insert_reading_with_events(
        conn,
        outbox,
        events.reading_recorded(reading, meter["kind"], status, leak),
        unchanged,
        id=reading.id,
        meter_serial=reading.meter_serial,
        contract_number=reading.contract_number,
        client_number=reading.client_number,
        value=value,
        read_on=read_on,
        source=source,
        role="regular",
        status=status,
        unusual=verdict.unusual,
        daily_m3=verdict.daily,
        baseline_m3=verdict.baseline,
        leak_suspected=verdict.leak,
        submitted_by=submitted_by,
        submitted_at=now,
        photo_id=photo_id,
        idempotency_key=idempotency_key,
    )
    if replaced is not None and row is not None:
        await repo.finish_superseding(conn, replaced, row["id"])
    return row


async def decide_reading(
    pool: asyncpg.Pool,
    outbox: Outbox,
    reading_id: uuid.UUID,
    *,
    accept: bool,
    reason: str | None,
    by: str,
) -> Record:
    """An operator's decision on a reading waiting for verification."""
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        row = await repo.reading(conn, reading_id, lock=True)
        reading_rules.check_waiting(row)
        assert row is not None
        await meters_repo.meter(conn, row["meter_serial"], lock=True)
        if accept:
            accepted = points(await repo.accepted_points(conn, row["meter_serial"]))
            reading_rules.check_acceptable(row["value"], accepted, row["read_on"], row["role"])
        status = "accepted" if accept else "rejected"
        await repo.decide_reading(conn, reading_id, status, by, reason, now)
        decided = await repo.reading(conn, reading_id)
        assert decided is not None
        if accept:
            await events.reading_accepted(conn, outbox, Reading.of(decided), row["kind"])
        else:
            await events.reading_rejected(
                conn, outbox, Reading.of(decided), row["kind"], reason or ""
            )
        return decided


# -- what customers and operators read ---------------------------------------------------------


@dataclass(frozen=True)
class ReadingsPage:
    total: int
    rows: list[Record]
    since: dt.date  # the contract's start: a customer sees no reading before it


async def meter_readings(
    pool: asyncpg.Pool, client_number: str, serial: str, limit: int, offset: int
) -> ReadingsPage:
    """A customer's meter's readings, newest first (another client's meter is not found)."""
    async with pool.acquire() as conn:
        found = await repo.client_readings_page(conn, serial, client_number, limit, offset)
        if found is not None:
            since, total, rows = found
            return ReadingsPage(total, rows, since)
        # Not the client's meter, or a page past the end: the meter's check and the count.
        meter = await meters_repo.client_meter(conn, serial, client_number)
        if meter is None:
            raise meters.not_yours(serial)
        total, rows = await repo.readings_page(
            conn, serial, client_number, meter["concluded_on"], limit, offset
        )
    return ReadingsPage(total, rows, meter["concluded_on"])


async def to_verify(pool: asyncpg.Pool, limit: int, offset: int) -> tuple[int, list[Record]]:
    """Readings waiting for an operator, oldest first."""
    async with pool.acquire() as conn:
        return await repo.to_verify_page(conn, limit, offset)


async def queue_counts(pool: asyncpg.Pool) -> dict[str, int]:
    """For the console's home: readings to verify, garden-meter requests to decide."""
    async with pool.acquire() as conn:
        return await repo.queue_counts(conn)


async def monthly_consumption(
    pool: asyncpg.Pool,
    client_number: str,
    contract_number: str | None,
    first: str | None = None,
    last: str | None = None,
) -> dict[str, consumption.Month]:
    """Water per month derived from the client's readings (of one contract, if named), the
    months from ``first`` to ``last`` (YYYY-MM) if given."""
    async with pool.acquire() as conn:
        if contract_number is not None:
            owned = {
                c["contract_number"]
                for c in await clients_repo.client_contracts(conn, client_number)
            }
            if contract_number not in owned:
                raise Refusal(
                    404, "contract-not-found", "Nie znaleziono takiej umowy wśród Twoich umów."
                )
        rows = await repo.monthly_consumption(conn, client_number, contract_number, first, last)
    return {
        r["month"]: consumption.Month(
            r["month"], {"main": r["main"], "garden": r["garden"]}, r["days"]
        )
        for r in rows
    }


async def photo(
    pool: asyncpg.Pool, photo_id: uuid.UUID, client_number: str | None = None
) -> Record:
    """A photo; for a customer (``client_number``) only their own (another's is not found)."""
    async with pool.acquire() as conn:
        row = await repo.photo(conn, photo_id)
    if row is None or (client_number is not None and row["client_number"] != client_number):
        raise Refusal(404, "photo-not-found", "Nie znaleziono zdjęcia.")
    return row


# -- reading windows ----------------------------------------------------------------------------


async def window_state(conn: asyncpg.Connection, today: dt.date) -> WindowState:
    mode, rows = await repo.window_config(conn)
    return reading_rules.window_state(
        mode, [Window(r["opens_on"], r["closes_on"]) for r in rows], today
    )


@dataclass(frozen=True)
class Windows:
    mode: str
    windows: list[Window]  # kept whatever the mode
    today: WindowState


async def reading_windows(pool: asyncpg.Pool) -> Windows:
    async with pool.acquire() as conn:
        mode, rows = await repo.window_config(conn, stored=True)
        state = await window_state(conn, clock.today())
    return Windows(mode, [Window(r["opens_on"], r["closes_on"]) for r in rows], state)


async def set_reading_windows(
    pool: asyncpg.Pool, mode: str, windows: list[Window], by: str
) -> Windows:
    """``always``: customers may read any day; ``windows``: only within the given periods."""
    reading_rules.check_windows(mode, windows)
    async with pool.acquire() as conn, conn.transaction():
        await repo.set_windows(
            conn, mode, [(w.opens_on, w.closes_on) for w in windows], by, clock.now()
        )
    return await reading_windows(pool)
