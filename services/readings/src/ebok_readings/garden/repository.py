"""SQL of garden-meter requests with their status history, and the reminders sent."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from ..common.connection import Conn, Record


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
    if total <= offset:  # nothing on the page (most customers have no open request)
        return int(total), []
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
