"""SQL of the meter registry."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ..common.connection import Conn, Record

_METER = """
SELECT m.*, c.client_number, c.concluded_on, c.terminated_on
FROM meters m JOIN contracts c USING (contract_number)
"""


async def attach_main_meter(
    conn: Conn, serial: str, contract_number: str, installed_on: dt.date
) -> None:
    """A meter a contract names: registered if new, moved to this contract if it served
    another one (a new owner of the supply point). Garden meters are never touched here."""
    await conn.execute(
        """INSERT INTO meters (serial, kind, contract_number, installed_on, registered_by)
           VALUES ($1, 'main', $2, $3, 'contract')
           ON CONFLICT (serial) DO UPDATE SET contract_number = EXCLUDED.contract_number
             WHERE meters.kind = 'main' AND meters.contract_number <> EXCLUDED.contract_number""",
        serial,
        contract_number,
        installed_on,
    )


async def meter(conn: Conn, serial: str, *, lock: bool = False) -> Record | None:
    """The meter with its contract; ``lock`` holds the meter row (its readings are decided
    one at a time) until the transaction ends."""
    return await conn.fetchrow(
        _METER + " WHERE m.serial = $1" + (" FOR UPDATE OF m" if lock else ""), serial
    )


async def client_meter(
    conn: Conn, serial: str, client_number: str, *, lock: bool = False
) -> Record | None:
    row = await meter(conn, serial, lock=lock)
    return row if row is not None and row["client_number"] == client_number else None


_TO_READ = "SELECT c.*, md5(c::text) AS fingerprint FROM {}($1, $2, $3, $4, $5) c"
_LOCKED = _TO_READ.format("readings_meter_to_read")
_UNLOCKED = _TO_READ.format("readings_meter_state")


async def meter_to_read(
    conn: Conn,
    serial: str,
    client_number: str,
    read_on: dt.date,
    idempotency_key: str | None,
    window_days: int,
    *,
    lock: bool = True,
) -> Record | None:
    """The meter locked, and on a snapshot taken after the lock everything a customer's
    reading of ``read_on`` is judged against, in one round trip (migration 0005's
    ``readings_meter_to_read``): the meter's facts and contract, ``window_mode`` with
    ``window_opens``/``window_closes``, ``done_id`` (the reading recorded under the key),
    the accepted live registers the rules read (with a baseline over ``window_days``),
    without the customer's live reading of the day, as ``point_ids``/``point_values``/
    ``point_days``/``point_roles`` in register order, ``live_id``/``live_billed_at`` (that
    live reading), and ``fingerprint`` (for ``readings_unchanged``). None if there is no such
    meter or it is another client's. ``lock=False``: the same, read without the lock
    (``readings_meter_state``), for a reading whose own statement is guarded by
    ``readings_unchanged``: a read that locks nothing writes nothing, so it commits without
    a WAL flush of its own."""
    row = await conn.fetchrow(
        _LOCKED if lock else _UNLOCKED, serial, client_number, read_on, idempotency_key, window_days
    )
    return row if row is not None and row["client_number"] == client_number else None


# The client's meters, each with its last reading and the customer's last submitted one.
_CLIENT_METERS = (
    _METER.replace(
        "SELECT m.*,",
        "SELECT m.*, l.id AS last_id, l.value AS last_value,"
        " l.read_on AS last_read_on, l.source AS last_source,"
        " l.status AS last_status, l.leak_suspected AS last_leak_suspected,"
        " s.id AS sent_id, s.read_on AS sent_read_on, s.status AS sent_status,"
        " s.decision_reason AS sent_decision_reason,",
    )
    + """ LEFT JOIN LATERAL (
        SELECT id, value, read_on, source, status, leak_suspected FROM readings r
        WHERE r.meter_serial = m.serial AND r.client_number = c.client_number
          AND r.superseded_at IS NULL AND r.status <> 'rejected'
        ORDER BY r.read_on DESC, CASE r.role WHEN 'initial' THEN 0
                 WHEN 'regular' THEN 1 ELSE 2 END DESC, r.submitted_at DESC
        LIMIT 1) l ON true
    LEFT JOIN LATERAL (
        SELECT id, read_on, status, decision_reason FROM readings r
        WHERE r.meter_serial = m.serial AND r.client_number = c.client_number
          AND r.source = 'customer' AND r.superseded_at IS NULL
        ORDER BY r.submitted_at DESC
        LIMIT 1) s ON true
    WHERE c.client_number = $1"""
)


async def client_meters(conn: Conn, client_number: str) -> list[Record]:
    return await conn.fetch(
        f"{_CLIENT_METERS} ORDER BY m.removed_on IS NOT NULL, m.kind, m.serial", client_number
    )


async def client_meters_and_windows(
    conn: Conn, client_number: str
) -> tuple[list[Record], str, list[tuple[dt.date, dt.date]]]:
    """``client_meters``, the reading window mode and every window (opens, closes; in
    order), in one round trip: the customer's meters are a part of every first dashboard.
    One row with the mode and windows leads, the meters (if any) beside it."""
    rows = await conn.fetch(
        "SELECT w.mode AS window_mode,"
        " ARRAY(SELECT ARRAY[opens_on, closes_on] FROM reading_windows"
        "   ORDER BY opens_on, closes_on) AS window_dates, x.*"
        " FROM (SELECT 1) one LEFT JOIN reading_window_mode w ON w.id = 1"
        f" LEFT JOIN ({_CLIENT_METERS}) x ON true"
        " ORDER BY x.removed_on IS NOT NULL, x.kind, x.serial",
        client_number,
    )
    first = rows[0]
    windows = [(opens, closes) for opens, closes in first["window_dates"]]
    meters = [row for row in rows if row["serial"] is not None]
    return meters, str(first["window_mode"]), windows


async def insert_meter(
    conn: Conn,
    *,
    serial: str,
    kind: str,
    contract_number: str,
    installed_on: dt.date,
    initial_value: Decimal,
    seal_number: str | None,
    sealed_on: dt.date | None,
    replaces: str | None,
    registered_by: str,
) -> None:
    await conn.execute(
        """INSERT INTO meters (serial, kind, contract_number, installed_on, initial_value,
               seal_number, sealed_on, replaces, registered_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        serial,
        kind,
        contract_number,
        installed_on,
        initial_value,
        seal_number,
        sealed_on,
        replaces,
        registered_by,
    )


async def complete_installation(
    conn: Conn,
    serial: str,
    installed_on: dt.date,
    initial_value: Decimal,
    seal_number: str | None,
    sealed_on: dt.date | None,
    registered_by: str,
) -> None:
    """The back office reports the installation of a meter known so far from its contract."""
    await conn.execute(
        """UPDATE meters SET installed_on = $2, initial_value = $3, seal_number = $4,
               sealed_on = $5, registered_by = $6 WHERE serial = $1""",
        serial,
        installed_on,
        initial_value,
        seal_number,
        sealed_on,
        registered_by,
    )


async def mark_removed(
    conn: Conn, serial: str, removed_on: dt.date, final_value: Decimal, replaced_by: str | None
) -> None:
    await conn.execute(
        "UPDATE meters SET removed_on = $2, final_value = $3, replaced_by = $4 WHERE serial = $1",
        serial,
        removed_on,
        final_value,
        replaced_by,
    )


async def set_replaced_by(conn: Conn, serial: str, replaced_by: str) -> None:
    await conn.execute("UPDATE meters SET replaced_by = $2 WHERE serial = $1", serial, replaced_by)


async def garden_meters_for_reminders(conn: Conn, today: dt.date) -> list[Record]:
    """Installed garden meters of live contracts (the notifier knows whom to e-mail: an
    account deleted in the meantime has no address there)."""
    return await conn.fetch(
        _METER
        + """ WHERE m.kind = 'garden' AND m.removed_on IS NULL
                AND (c.terminated_on IS NULL OR c.terminated_on >= $1)
              ORDER BY m.serial""",
        today,
    )
