"""Billing's own run: tariffs and the meter readings it bills."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from ..common.connection import Conn, Record
from .domain import Tariff


async def tariffs(conn: Conn) -> list[Record]:
    return await conn.fetch("SELECT * FROM tariffs ORDER BY tariff_group, valid_from")


async def put_tariff(conn: Conn, t: Tariff, by: str, at: datetime) -> None:
    """The tariff (replacing that group's prices of that day) and its line in the history."""
    replaced = await conn.fetchval(
        """INSERT INTO tariffs (tariff_group, valid_from, water_price, sewage_price,
               subscription_fee, vat_rate, changed_by, changed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (tariff_group, valid_from) DO UPDATE SET
               water_price = EXCLUDED.water_price, sewage_price = EXCLUDED.sewage_price,
               subscription_fee = EXCLUDED.subscription_fee, vat_rate = EXCLUDED.vat_rate,
               changed_by = EXCLUDED.changed_by, changed_at = EXCLUDED.changed_at
           RETURNING xmax <> 0""",
        t.tariff_group,
        t.valid_from,
        t.water_price,
        t.sewage_price,
        t.subscription_fee,
        t.vat_rate,
        by,
        at,
    )
    await conn.execute(
        """INSERT INTO tariff_changes (tariff_group, valid_from, water_price, sewage_price,
               subscription_fee, vat_rate, replaced, changed_by, changed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        t.tariff_group,
        t.valid_from,
        t.water_price,
        t.sewage_price,
        t.subscription_fee,
        t.vat_rate,
        bool(replaced),
        by,
        at,
    )


async def tariff_changes(conn: Conn, limit: int, offset: int) -> tuple[int, list[Record]]:
    total = await conn.fetchval("SELECT count(*) FROM tariff_changes")
    rows = await conn.fetch(
        "SELECT * FROM tariff_changes ORDER BY id DESC LIMIT $1 OFFSET $2", limit, offset
    )
    return int(total), rows


async def tariff_on(conn: Conn, tariff_group: str, day: date) -> Record | None:
    return await conn.fetchrow(
        """SELECT * FROM tariffs WHERE tariff_group = $1 AND valid_from <= $2
           ORDER BY valid_from DESC LIMIT 1""",
        tariff_group,
        day,
    )


async def add_reading(
    conn: Conn,
    *,
    reading_id: uuid.UUID,
    meter_serial: str,
    contract_number: str,
    client_number: str,
    value: Decimal,
    read_on: date,
    kind: str,
) -> bool:
    """Record an accepted reading; False when it was recorded before."""
    added = await conn.fetchval(
        """INSERT INTO meter_readings (reading_id, meter_serial, contract_number,
               client_number, value, read_on, kind)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING true""",
        reading_id,
        meter_serial,
        contract_number,
        client_number,
        value,
        read_on,
        kind,
    )
    return bool(added)


async def previous_reading(
    conn: Conn, meter_serial: str, before: date, reading_id: uuid.UUID
) -> Record | None:
    return await conn.fetchrow(
        """SELECT * FROM meter_readings WHERE meter_serial = $1 AND read_on <= $2
             AND reading_id <> $3
           ORDER BY read_on DESC, received_at DESC LIMIT 1""",
        meter_serial,
        before,
        reading_id,
    )


async def unbilled_garden_readings(conn: Conn, contract_number: str, upto: date) -> list[Record]:
    return await conn.fetch(
        """SELECT * FROM meter_readings WHERE contract_number = $1 AND kind = 'garden'
             AND invoice_number IS NULL AND read_on <= $2 ORDER BY meter_serial, read_on""",
        contract_number,
        upto,
    )


async def garden_before(
    conn: Conn, meter_serial: str, before: date, exclude: Sequence[uuid.UUID]
) -> Record | None:
    return await conn.fetchrow(
        """SELECT * FROM meter_readings WHERE meter_serial = $1 AND read_on <= $2
             AND NOT (reading_id = ANY($3::uuid[]))
           ORDER BY read_on DESC, received_at DESC LIMIT 1""",
        meter_serial,
        before,
        list(exclude),
    )


async def mark_billed(conn: Conn, reading_ids: Sequence[uuid.UUID], invoice_number: str) -> None:
    await conn.execute(
        "UPDATE meter_readings SET invoice_number = $2 WHERE reading_id = ANY($1::uuid[])",
        list(reading_ids),
        invoice_number,
    )
