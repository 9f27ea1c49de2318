"""The back-office feed: batches of readings taken by inspectors and remote reading, and of
meter installations, replacements and removals.

Rows are applied in order, in one transaction, each through the same rules as everything
else (a row may rely on an earlier one: install a meter, then read it). A row the rules
refuse is reported with its line, field and reason; a batch with any error applies nothing.
A batch is idempotent: the same file again is recognised by its checksum, and a row that
restates what is already recorded changes nothing, so re-sending a batch (or one
overlapping an earlier one) is harmless. The flow, the batch's record and its answer are the
shared feed's (``ebok_shared.feed``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
from ebok_shared.bus import Outbox
from ebok_shared.feed import WHOLE_ROW, BatchResult, Counts, LineErrors, no_rows
from ebok_shared.feed import apply as shared_feed
from ebok_shared.feed import repository as batches
from ebok_shared.refusals import Refusal, invalid, not_found

from ..clients import repository as clients_repo
from ..common.connection import Record
from ..common.values import pl_date, pl_m3
from ..meters import domain as meters
from ..meters import repository as meters_repo
from ..meters import use_cases as registry
from ..readings import repository as readings_repo
from ..readings.domain import Rules
from ..readings.use_cases import record_reading
from . import domain as feed
from . import repository as repo
from .domain import Kind

RowHandler = Callable[
    [asyncpg.Connection, Outbox, Rules, dict[str, str], str, dt.date, dt.datetime],
    Awaitable[bool],
]


async def _known_meter(conn: asyncpg.Connection, serial: str, name: str) -> Record:
    meter = await meters_repo.meter(conn, serial, lock=True)
    if meter is None:
        raise invalid(name, "nieznany wodomierz")
    return meter


async def _reading_row(
    conn: asyncpg.Connection,
    outbox: Outbox,
    rules: Rules,
    row: dict[str, str],
    by: str,
    today: dt.date,
    now: dt.datetime,
) -> bool:
    r = feed.reading_row(row)
    meter = await _known_meter(conn, r.meter_serial, "meter_serial")
    recorded = await readings_repo.feed_reading(conn, r.meter_serial, r.read_on, r.source)
    if recorded is not None:
        if recorded["value"] == r.value:
            return False
        raise invalid(
            "value",
            f"dla tego dnia i źródła zapisano już inny stan ({pl_m3(recorded['value'])})",
        )
    await record_reading(
        conn,
        outbox,
        rules,
        meter,
        value=r.value,
        read_on=r.read_on,
        source=r.source,
        submitted_by=by,
        today=today,
        now=now,
    )
    return True


async def _meter_row(
    conn: asyncpg.Connection,
    outbox: Outbox,
    rules: Rules,
    row: dict[str, str],
    by: str,
    today: dt.date,
    now: dt.datetime,
) -> bool:
    m = feed.meter_row(row, today)
    if m.action == "install":
        return await _install(conn, outbox, rules, m, by, now)
    if m.action == "remove":
        assert m.final_value is not None
        meter = await _known_meter(conn, m.serial, "serial")
        if meter["removed_on"] is not None:
            if meter["removed_on"] == m.date and meter["final_value"] == m.final_value:
                return False
            raise meters.removed(meter)
        await registry.check_final(
            conn, meter, m.date, m.final_value, date_field="date", value_field="final_value"
        )
        await registry.remove_meter(
            conn,
            outbox,
            meter,
            removed_on=m.date,
            final_value=m.final_value,
            source="inspector",
            by=by,
            now=now,
        )
        return True
    assert m.old_serial is not None and m.final_value is not None
    assert m.initial_value is not None
    old = await _known_meter(conn, m.old_serial, "old_serial")
    if (
        old["replaced_by"] == m.serial
        and old["removed_on"] == m.date
        and old["final_value"] == m.final_value
    ):
        return False
    await registry.check_final(
        conn, old, m.date, m.final_value, date_field="date", value_field="final_value"
    )
    await registry.check_new_serial(conn, m.serial, "serial")
    await registry.replace_meter(
        conn,
        outbox,
        rules,
        old,
        new_serial=m.serial,
        replaced_on=m.date,
        final_value=m.final_value,
        initial_value=m.initial_value,
        seal_number=m.seal_number,
        source="inspector",
        by=by,
        now=now,
    )
    return True


async def _install(
    conn: asyncpg.Connection,
    outbox: Outbox,
    rules: Rules,
    m: feed.MeterRow,
    by: str,
    now: dt.datetime,
) -> bool:
    assert m.kind is not None and m.contract_number is not None and m.initial_value is not None
    contract = await clients_repo.contract(conn, m.contract_number)
    if contract is None:
        raise invalid("contract_number", "nieznana umowa")
    if m.date < contract["concluded_on"]:
        raise invalid(
            "date",
            f"data jest wcześniejsza niż zawarcie umowy ({pl_date(contract['concluded_on'])})",
        )
    existing = await meters_repo.meter(conn, m.serial)
    if (
        existing is not None
        and existing["initial_value"] == m.initial_value
        and existing["installed_on"] == m.date
        and existing["kind"] == m.kind
        and existing["contract_number"] == m.contract_number
    ):
        return False
    await registry.install_meter(
        conn,
        outbox,
        rules,
        serial=m.serial,
        kind=m.kind,
        contract=contract,
        installed_on=m.date,
        initial_value=m.initial_value,
        seal_number=m.seal_number,
        source="inspector",
        by=by,
        now=now,
    )
    return True


ROW_HANDLERS: dict[Kind, RowHandler] = {"readings": _reading_row, "meters": _meter_row}


async def apply(
    pool: asyncpg.Pool,
    outbox: Outbox,
    rules: Rules,
    *,
    kind: Kind,
    body: bytes,
    fmt: str,
    received_by: str,
    max_rows: int,
    today: dt.date,
    now: dt.datetime,
) -> BatchResult:
    """Apply a whole batch or nothing (raises ``BatchTooLarge`` past ``max_rows``); the
    answer says what was applied or lists the errors."""
    errors = LineErrors()
    rows = feed.read_rows(body, fmt, kind, max_rows, errors)
    if not rows and not errors:
        no_rows(errors)
    handler = ROW_HANDLERS[kind]

    async def lock(conn: asyncpg.Connection) -> None:
        await repo.lock_feed(conn, kind)

    async def apply_rows(
        conn: asyncpg.Connection, batch_id: uuid.UUID, errors: LineErrors
    ) -> Counts:
        by = f"feed:{batch_id}"
        counts = Counts()
        for line, row in rows:
            try:
                async with conn.transaction():  # savepoint: keep checking after an error
                    changed = await handler(conn, outbox, rules, row, by, today, now)
            except Refusal as exc:
                errors.add(line, exc.field or WHOLE_ROW, exc.reason)
                continue
            if changed:
                counts.applied += 1
            else:
                counts.unchanged += 1
        return counts

    async with pool.acquire() as conn:
        return await shared_feed.apply_batch(
            conn,
            kind=kind,
            body=body,
            fmt=fmt,
            row_count=len(rows),
            errors=errors,
            submitted_by=received_by,
            lock=lock,
            apply=apply_rows,
            received_at=now,
        )


KINDS: tuple[Kind, ...] = ("readings", "meters")


async def batch_page(pool: asyncpg.Pool, limit: int, offset: int) -> tuple[int, list[Record]]:
    """The history of readings' and meters' batches, the newest first."""
    async with pool.acquire() as conn:
        return await batches.batch_page(conn, KINDS, limit, offset)


async def batch(pool: asyncpg.Pool, batch_id: uuid.UUID) -> BatchResult:
    """One batch as it was answered: applied, or rejected with each bad row."""
    async with pool.acquire() as conn:
        row = await batches.batch(conn, KINDS, batch_id)
    if row is None:
        raise not_found("Nie znaleziono partii.")
    return BatchResult.from_record(row, replayed=False)
