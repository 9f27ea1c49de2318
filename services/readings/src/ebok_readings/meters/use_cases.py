"""The meter registry: installations, removals and replacements (from the back-office feed
or an accepted garden-meter request, in the caller's transaction), each with its initial or
final reading; and what customers and operators read about meters."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
from ebok_shared.bus import Outbox
from ebok_shared.clock import clock

from .. import events
from ..clients import repository as clients_repo
from ..common.connection import Record
from ..garden import repository as garden_repo
from ..readings import domain as reading_rules
from ..readings import repository as readings_repo
from ..readings.domain import Reading, Rules, Window, WindowState
from ..readings.use_cases import points
from . import domain as meters
from . import repository as repo
from .domain import MeterRef


async def _register_reading(
    conn: asyncpg.Connection,
    outbox: Outbox,
    meter: Record,
    *,
    value: Decimal,
    read_on: dt.date,
    role: str,
    source: str,
    submitted_by: str,
    now: dt.datetime,
    photo_id: uuid.UUID | None = None,
) -> None:
    row = await readings_repo.insert_reading(
        conn,
        id=uuid.uuid4(),
        meter_serial=meter["serial"],
        contract_number=meter["contract_number"],
        client_number=meter["client_number"],
        value=value,
        read_on=read_on,
        source=source,
        role=role,
        status="accepted",
        submitted_by=submitted_by,
        submitted_at=now,
        photo_id=photo_id,
    )
    await events.reading_accepted(conn, outbox, Reading.of(row), meter["kind"])


async def check_new_serial(conn: asyncpg.Connection, serial: str, field: str) -> None:
    if await repo.meter(conn, serial) is not None:
        raise meters.already_registered(serial, field)


async def check_final(
    conn: asyncpg.Connection,
    meter: Record,
    done_on: dt.date,
    final_value: Decimal,
    *,
    date_field: str,
    value_field: str,
) -> None:
    """A final reading on ``done_on`` fits the meter and its readings."""
    accepted = points(await readings_repo.accepted_points(conn, meter["serial"]))
    meters.check_final(
        meter, accepted, done_on, final_value, date_field=date_field, value_field=value_field
    )


async def install_meter(
    conn: asyncpg.Connection,
    outbox: Outbox,
    rules: Rules,
    *,
    serial: str,
    kind: str,
    contract: Record,
    installed_on: dt.date,
    initial_value: Decimal,
    seal_number: str | None,
    source: str,
    by: str,
    now: dt.datetime,
    replaces: str | None = None,
    photo_id: uuid.UUID | None = None,
    announce: bool = True,
) -> Record:
    sealed_on = installed_on if seal_number else None
    existing = await repo.meter(conn, serial, lock=True)
    if existing is not None:
        if not meters.known_from_contract(existing, contract["contract_number"], kind):
            raise meters.already_registered(serial, "serial")
        accepted = points(await readings_repo.accepted_points(conn, serial))
        meters.check_installation(accepted, installed_on, initial_value)
        await repo.complete_installation(
            conn, serial, installed_on, initial_value, seal_number, sealed_on, by
        )
    else:
        await repo.insert_meter(
            conn,
            serial=serial,
            kind=kind,
            contract_number=contract["contract_number"],
            installed_on=installed_on,
            initial_value=initial_value,
            seal_number=seal_number,
            sealed_on=sealed_on,
            replaces=replaces,
            registered_by=by,
        )
    meter = await repo.meter(conn, serial)
    assert meter is not None
    await _register_reading(
        conn,
        outbox,
        meter,
        value=initial_value,
        read_on=installed_on,
        role="initial",
        source=source,
        submitted_by=by,
        now=now,
        photo_id=photo_id,
    )
    if announce:
        expires = meters.legalisation_expires(sealed_on, rules.legalisation_years)
        await events.meter_installed(
            conn, outbox, MeterRef.of(meter), installed_on, initial_value, expires
        )
    return meter


async def remove_meter(
    conn: asyncpg.Connection,
    outbox: Outbox,
    meter: Record,
    *,
    removed_on: dt.date,
    final_value: Decimal,
    source: str,
    by: str,
    now: dt.datetime,
    replaced_by: str | None = None,
    photo_id: uuid.UUID | None = None,
    announce: bool = True,
) -> None:
    """Checked by the caller with ``check_final``."""
    await _register_reading(
        conn,
        outbox,
        meter,
        value=final_value,
        read_on=removed_on,
        role="final",
        source=source,
        submitted_by=by,
        now=now,
        photo_id=photo_id,
    )
    await repo.mark_removed(conn, meter["serial"], removed_on, final_value, replaced_by)
    if announce:
        await events.meter_removed(conn, outbox, MeterRef.of(meter), removed_on, final_value)


async def replace_meter(
    conn: asyncpg.Connection,
    outbox: Outbox,
    rules: Rules,
    old: Record,
    *,
    new_serial: str,
    replaced_on: dt.date,
    final_value: Decimal,
    initial_value: Decimal,
    seal_number: str | None,
    source: str,
    by: str,
    now: dt.datetime,
    photo_id: uuid.UUID | None = None,
) -> None:
    """Checked by the caller (``check_final`` on the old meter, ``check_new_serial``)."""
    await remove_meter(
        conn,
        outbox,
        old,
        removed_on=replaced_on,
        final_value=final_value,
        source=source,
        by=by,
        now=now,
        photo_id=photo_id,
        announce=False,
    )
    contract = await clients_repo.contract(conn, old["contract_number"])
    assert contract is not None
    await install_meter(
        conn,
        outbox,
        rules,
        serial=new_serial,
        kind=old["kind"],
        contract=contract,
        installed_on=replaced_on,
        initial_value=initial_value,
        seal_number=seal_number,
        source=source,
        by=by,
        now=now,
        replaces=old["serial"],
        photo_id=photo_id,
        announce=False,
    )
    await repo.set_replaced_by(conn, old["serial"], new_serial)
    sealed_on = replaced_on if seal_number else None
    await events.meter_replaced(
        conn,
        outbox,
        MeterRef.of(old),
        new_serial=new_serial,
        replaced_on=replaced_on,
        final_value=final_value,
        initial_value=initial_value,
        seal_number=seal_number,
        legalisation_expires_on=meters.legalisation_expires(sealed_on, rules.legalisation_years),
    )


# -- what customers and operators read ---------------------------------------------------------


async def client_meters(pool: asyncpg.Pool, client_number: str) -> tuple[list[Record], WindowState]:
    """The client's meters with their last reading, and whether readings are taken today
    (one round trip: asked by every first dashboard)."""
    rows, mode, windows = await repo.client_meters_and_windows(pool, client_number)
    dated = [Window(opens, closes) for opens, closes in windows]
    return rows, reading_rules.window_state(mode, dated, clock.today())


@dataclass(frozen=True)
class MeterHistory:
    meter: Record
    readings: list[Record]  # superseded and rejected ones too
    requests: list[Record]
    history: dict[uuid.UUID, list[Record]]
    reminders: list[Record]


async def meter_history(pool: asyncpg.Pool, serial: str) -> MeterHistory:
    """Everything about one meter, for an operator."""
    async with pool.acquire() as conn:
        meter = await repo.meter(conn, serial)
        if meter is None:
            raise meters.not_found(serial)
        requests = await garden_repo.meter_requests(conn, serial)
        return MeterHistory(
            meter,
            await readings_repo.meter_readings(conn, serial),
            requests,
            await garden_repo.histories(conn, [r["id"] for r in requests]),
            await garden_repo.meter_reminders(conn, serial),
        )
