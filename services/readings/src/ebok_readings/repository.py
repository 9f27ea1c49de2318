"""readings SQL: every query of this service, plain asyncpg."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TypeAlias

import asyncpg

Conn: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"
Record: TypeAlias = asyncpg.Record

_METER = """
SELECT m.*, c.client_number, c.concluded_on, c.terminated_on
FROM meters m JOIN contracts c USING (contract_number)
"""

# -- contracts (billing's projection) ------------------------------------------------------


async def upsert_contract(
    conn: Conn, contract_number: str, client_number: str, concluded_on: dt.date
) -> None:
    await conn.execute(
        """INSERT INTO contracts (contract_number, client_number, concluded_on)
           VALUES ($1, $2, $3)
           ON CONFLICT (contract_number) DO UPDATE SET client_number = EXCLUDED.client_number,
               concluded_on = EXCLUDED.concluded_on, updated_at = now()""",
        contract_number,
        client_number,
        concluded_on,
    )


async def terminate_contract(
    conn: Conn, contract_number: str, client_number: str, terminated_on: dt.date
) -> None:
    """Only a contract this service knows (its concluded event came first, in order)."""
    await conn.execute(
        """UPDATE contracts SET terminated_on = $3, updated_at = now()
           WHERE contract_number = $1 AND client_number = $2""",
        contract_number,
        client_number,
        terminated_on,
    )


async def contract(conn: Conn, contract_number: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT * FROM contracts WHERE contract_number = $1", contract_number
    )


async def client_contracts(conn: Conn, client_number: str) -> list[Record]:
    return await conn.fetch(
        "SELECT * FROM contracts WHERE client_number = $1 ORDER BY concluded_on, contract_number",
        client_number,
    )


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


# -- meters ---------------------------------------------------------------------------------


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


async def client_meters(conn: Conn, client_number: str) -> list[Record]:
    return await conn.fetch(
        _METER.replace(
            "SELECT m.*,",
            "SELECT m.*, l.id AS last_id, l.value AS last_value,"
            " l.read_on AS last_read_on, l.source AS last_source,"
            " l.status AS last_status,",
        )
        + """ LEFT JOIN LATERAL (
                SELECT id, value, read_on, source, status FROM readings r
                WHERE r.meter_serial = m.serial AND r.client_number = c.client_number
                  AND r.superseded_at IS NULL AND r.status <> 'rejected'
                ORDER BY r.read_on DESC, CASE r.role WHEN 'initial' THEN 0
                         WHEN 'regular' THEN 1 ELSE 2 END DESC, r.submitted_at DESC
                LIMIT 1) l ON true
            WHERE c.client_number = $1
            ORDER BY m.removed_on IS NOT NULL, m.kind, m.serial""",
        client_number,
    )


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


# -- readings -------------------------------------------------------------------------------

_ORDER = """read_on, CASE role WHEN 'initial' THEN 0 WHEN 'regular' THEN 1 ELSE 2 END,
            submitted_at, id"""


async def accepted_points(conn: Conn, serial: str) -> list[Record]:
    """The meter's accepted, live readings in register order."""
    return await conn.fetch(
        f"""SELECT id, value, read_on, role FROM readings
            WHERE meter_serial = $1 AND status = 'accepted' AND superseded_at IS NULL
            ORDER BY {_ORDER}""",
        serial,
    )


async def live_customer_reading(conn: Conn, serial: str, read_on: dt.date) -> Record | None:
    return await conn.fetchrow(
        """SELECT * FROM readings WHERE meter_serial = $1 AND read_on = $2
             AND source = 'customer' AND role = 'regular' AND superseded_at IS NULL
             AND status <> 'rejected'""",
        serial,
        read_on,
    )


async def feed_reading(conn: Conn, serial: str, read_on: dt.date, source: str) -> Record | None:
    return await conn.fetchrow(
        """SELECT * FROM readings WHERE meter_serial = $1 AND read_on = $2 AND source = $3
             AND role = 'regular'""",
        serial,
        read_on,
        source,
    )


async def reading_by_key(conn: Conn, client_number: str, key: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT * FROM readings WHERE client_number = $1 AND idempotency_key = $2",
        client_number,
        key,
    )


async def reading(conn: Conn, reading_id: uuid.UUID, *, lock: bool = False) -> Record | None:
    return await conn.fetchrow(
        "SELECT r.*, m.kind FROM readings r JOIN meters m ON m.serial = r.meter_serial"
        " WHERE r.id = $1" + (" FOR UPDATE OF r" if lock else ""),
        reading_id,
    )


async def start_superseding(conn: Conn, reading_id: uuid.UUID, at: dt.datetime) -> None:
    await conn.execute("UPDATE readings SET superseded_at = $2 WHERE id = $1", reading_id, at)


async def finish_superseding(conn: Conn, reading_id: uuid.UUID, by: uuid.UUID) -> None:
    await conn.execute("UPDATE readings SET superseded_by = $2 WHERE id = $1", reading_id, by)


async def insert_reading(conn: Conn, **values: Any) -> Record:
    names = list(values)
    row = await conn.fetchrow(
        f"INSERT INTO readings ({', '.join(names)}) VALUES"
        f" ({', '.join(f'${i}' for i in range(1, len(names) + 1))}) RETURNING *",
        *values.values(),
    )
    assert row is not None
    return row


async def decide_reading(
    conn: Conn, reading_id: uuid.UUID, status: str, by: str, reason: str | None, at: dt.datetime
) -> None:
    await conn.execute(
        """UPDATE readings SET status = $2, decided_by = $3, decision_reason = $4,
               decided_at = $5 WHERE id = $1""",
        reading_id,
        status,
        by,
        reason,
        at,
    )


async def readings_page(
    conn: Conn, serial: str, client_number: str, since: dt.date, limit: int, offset: int
) -> tuple[int, list[Record]]:
    where = """FROM readings WHERE meter_serial = $1 AND client_number = $2 AND read_on >= $3
               AND superseded_at IS NULL"""
    total = await conn.fetchval(f"SELECT count(*) {where}", serial, client_number, since)
    rows = await conn.fetch(
        f"SELECT * {where} ORDER BY read_on DESC, CASE role WHEN 'initial' THEN 0"
        " WHEN 'regular' THEN 1 ELSE 2 END DESC, submitted_at DESC LIMIT $4 OFFSET $5",
        serial,
        client_number,
        since,
        limit,
        offset,
    )
    return int(total), rows


async def meter_readings(conn: Conn, serial: str) -> list[Record]:
    """Every reading a meter ever had, superseded and rejected ones too (operator view)."""
    return await conn.fetch(
        f"SELECT * FROM readings WHERE meter_serial = $1 ORDER BY {_ORDER}", serial
    )


async def to_verify_page(conn: Conn, limit: int, offset: int) -> tuple[int, list[Record]]:
    total = await conn.fetchval(
        "SELECT count(*) FROM readings WHERE status = 'to_verify' AND superseded_at IS NULL"
    )
    rows = await conn.fetch(
        """SELECT r.*, m.kind FROM readings r JOIN meters m ON m.serial = r.meter_serial
           WHERE r.status = 'to_verify' AND r.superseded_at IS NULL
           ORDER BY r.submitted_at, r.id LIMIT $1 OFFSET $2""",
        limit,
        offset,
    )
    return int(total), rows


async def mark_billed(
    conn: Conn, client_number: str, upto: dt.date, issued_at: dt.datetime
) -> None:
    """Readings an invoice issued at ``issued_at`` could have billed are final from then on."""
    await conn.execute(
        """UPDATE readings SET billed_at = $3 WHERE client_number = $1 AND billed_at IS NULL
             AND status = 'accepted' AND read_on <= $2 AND submitted_at <= $3""",
        client_number,
        upto,
        issued_at,
    )


async def consumption_points(
    conn: Conn, client_number: str, contract_number: str | None
) -> list[Record]:
    """Accepted live readings of the client's meters, meter by meter in register order."""
    return await conn.fetch(
        f"""SELECT r.meter_serial, m.kind, r.value, r.read_on, r.role
            FROM readings r JOIN meters m ON m.serial = r.meter_serial
            WHERE r.client_number = $1 AND r.status = 'accepted' AND r.superseded_at IS NULL
              AND ($2::text IS NULL OR r.contract_number = $2)
            ORDER BY r.meter_serial, {_ORDER}""",
        client_number,
        contract_number,
    )


async def client_readings(conn: Conn, client_number: str) -> list[Record]:
    return await conn.fetch(
        f"SELECT * FROM readings WHERE client_number = $1 ORDER BY meter_serial, {_ORDER}",
        client_number,
    )


# -- photos ---------------------------------------------------------------------------------


async def insert_photo(
    conn: Conn,
    photo_id: uuid.UUID,
    client_number: str,
    content_type: str,
    data: bytes,
    sha256: str,
    at: dt.datetime,
) -> None:
    await conn.execute(
        """INSERT INTO photos (id, client_number, content_type, size, sha256, data, uploaded_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        photo_id,
        client_number,
        content_type,
        len(data),
        sha256,
        data,
        at,
    )


async def photo(conn: Conn, photo_id: uuid.UUID) -> Record | None:
    return await conn.fetchrow("SELECT * FROM photos WHERE id = $1", photo_id)


# -- garden-meter requests ------------------------------------------------------------------


async def insert_request(conn: Conn, **values: Any) -> Record:
    names = list(values)
    row = await conn.fetchrow(
        f"INSERT INTO garden_requests ({', '.join(names)}) VALUES"
        f" ({', '.join(f'${i}' for i in range(1, len(names) + 1))}) RETURNING *",
        *values.values(),
    )
    assert row is not None
    return row


async def add_history(
    conn: Conn, request_id: uuid.UUID, status: str, at: dt.datetime, by: str, reason: str | None
) -> None:
    await conn.execute(
        """INSERT INTO garden_request_history (request_id, status, at, by, reason)
           VALUES ($1, $2, $3, $4, $5)""",
        request_id,
        status,
        at,
        by,
        reason,
    )


async def request(conn: Conn, request_id: uuid.UUID, *, lock: bool = False) -> Record | None:
    return await conn.fetchrow(
        "SELECT * FROM garden_requests WHERE id = $1" + (" FOR UPDATE" if lock else ""),
        request_id,
    )


async def request_by_key(conn: Conn, client_number: str, key: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT * FROM garden_requests WHERE client_number = $1 AND idempotency_key = $2",
        client_number,
        key,
    )


async def open_request_for(conn: Conn, serial: str) -> Record | None:
    return await conn.fetchrow(
        """SELECT * FROM garden_requests WHERE status = 'submitted'
             AND (old_serial = $1 OR new_serial = $1) LIMIT 1""",
        serial,
    )


async def decide_request(
    conn: Conn, request_id: uuid.UUID, status: str, by: str, reason: str | None, at: dt.datetime
) -> None:
    await conn.execute(
        """UPDATE garden_requests SET status = $2, decided_by = $3, reason = $4, decided_at = $5
           WHERE id = $1""",
        request_id,
        status,
        by,
        reason,
        at,
    )


async def requests_page(
    conn: Conn,
    *,
    client_number: str | None,
    status: str | None,
    limit: int,
    offset: int,
    oldest_first: bool = False,
) -> tuple[int, list[Record]]:
    where = """FROM garden_requests WHERE ($1::text IS NULL OR client_number = $1)
               AND ($2::text IS NULL OR status = $2)"""
    total = await conn.fetchval(f"SELECT count(*) {where}", client_number, status)
    order = "submitted_at, id" if oldest_first else "submitted_at DESC, id"
    rows = await conn.fetch(
        f"SELECT * {where} ORDER BY {order} LIMIT $3 OFFSET $4",
        client_number,
        status,
        limit,
        offset,
    )
    return int(total), rows


async def meter_requests(conn: Conn, serial: str) -> list[Record]:
    return await conn.fetch(
        """SELECT * FROM garden_requests WHERE old_serial = $1 OR new_serial = $1
           ORDER BY submitted_at""",
        serial,
    )


async def histories(conn: Conn, request_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Record]]:
    rows = await conn.fetch(
        """SELECT * FROM garden_request_history WHERE request_id = ANY($1::uuid[])
           ORDER BY request_id, id""",
        list(request_ids),
    )
    found: dict[uuid.UUID, list[Record]] = {i: [] for i in request_ids}
    for row in rows:
        found[row["request_id"]].append(row)
    return found


# -- reading windows ------------------------------------------------------------------------


async def window_config(conn: Conn, *, stored: bool = False) -> tuple[str, list[Record]]:
    """The mode and the windows that apply (``stored``: the windows kept whatever the mode)."""
    mode = await conn.fetchval("SELECT mode FROM reading_window_mode WHERE id = 1")
    if mode == "always" and not stored:
        return "always", []
    windows = await conn.fetch("SELECT * FROM reading_windows ORDER BY opens_on")
    return str(mode), windows


async def set_windows(
    conn: Conn, mode: str, windows: Sequence[tuple[dt.date, dt.date]], by: str, at: dt.datetime
) -> None:
    await conn.execute(
        "UPDATE reading_window_mode SET mode = $1, updated_by = $2, updated_at = $3 WHERE id = 1",
        mode,
        by,
        at,
    )
    await conn.execute("DELETE FROM reading_windows")
    await conn.executemany(
        "INSERT INTO reading_windows (opens_on, closes_on) VALUES ($1, $2)", list(windows)
    )


# -- reminders ------------------------------------------------------------------------------


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


async def last_read_on(conn: Conn, serial: str) -> dt.date | None:
    value = await conn.fetchval(
        """SELECT max(read_on) FROM readings WHERE meter_serial = $1 AND role = 'regular'
             AND status <> 'rejected' AND superseded_at IS NULL""",
        serial,
    )
    return value  # type: ignore[no-any-return]


async def claim_reminder(
    conn: Conn, serial: str, kind: str, due_on: dt.date, at: dt.datetime
) -> bool:
    claimed = await conn.fetchval(
        """INSERT INTO reminders_sent (meter_serial, kind, due_on, sent_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING true""",
        serial,
        kind,
        due_on,
        at,
    )
    return bool(claimed)


async def meter_reminders(conn: Conn, serial: str) -> list[Record]:
    return await conn.fetch(
        "SELECT * FROM reminders_sent WHERE meter_serial = $1 ORDER BY sent_at", serial
    )


async def client_reminders(conn: Conn, client_number: str) -> list[Record]:
    return await conn.fetch(
        """SELECT s.* FROM reminders_sent s JOIN meters m ON m.serial = s.meter_serial
           JOIN contracts c USING (contract_number) WHERE c.client_number = $1
           ORDER BY s.sent_at""",
        client_number,
    )


# -- feed batches ---------------------------------------------------------------------------


async def feed_batch(conn: Conn, kind: str, sha256: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT * FROM feed_batches WHERE kind = $1 AND sha256 = $2", kind, sha256
    )


async def insert_feed_batch(
    conn: Conn,
    batch_id: uuid.UUID,
    kind: str,
    sha256: str,
    rows: int,
    applied: int,
    by: str,
    at: dt.datetime,
) -> None:
    await conn.execute(
        """INSERT INTO feed_batches (id, kind, sha256, rows, applied, received_by, received_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        batch_id,
        kind,
        sha256,
        rows,
        applied,
        by,
        at,
    )


# -- personal data --------------------------------------------------------------------------


async def unlink_client(conn: Conn, client_number: str, at: dt.datetime) -> None:
    """The account was deleted: its photos go, who-submitted no longer names the person's
    account; readings and meters stay (the utility's records)."""
    await conn.execute(
        """INSERT INTO unlinked_clients (client_number, unlinked_at) VALUES ($1, $2)
           ON CONFLICT DO NOTHING""",
        client_number,
        at,
    )
    await conn.execute("DELETE FROM photos WHERE client_number = $1", client_number)
    await conn.execute(
        """UPDATE readings SET submitted_by = 'customer:account-deleted', idempotency_key = NULL
           WHERE client_number = $1 AND submitted_by LIKE 'customer:%'""",
        client_number,
    )
    await conn.execute(
        """UPDATE garden_requests SET submitted_by = 'customer:account-deleted',
               idempotency_key = NULL WHERE client_number = $1""",
        client_number,
    )
    await conn.execute(
        """UPDATE garden_request_history SET by = 'customer:account-deleted'
           WHERE by LIKE 'customer:%' AND request_id IN
               (SELECT id FROM garden_requests WHERE client_number = $1)""",
        client_number,
    )


async def is_unlinked(conn: Conn, client_number: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM unlinked_clients WHERE client_number = $1", client_number
        )
    )
