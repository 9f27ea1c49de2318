"""SQL of readings, their photos and the reading windows."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
from ebok_shared.bus import Event, Outbox

from ..common.connection import Conn, Record

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


async def feed_reading(conn: Conn, serial: str, read_on: dt.date, source: str) -> Record | None:
    return await conn.fetchrow(
        """SELECT * FROM readings WHERE meter_serial = $1 AND read_on = $2 AND source = $3
             AND role = 'regular'""",
        serial,
        read_on,
        source,
    )


async def reading_by_id(conn: Conn, reading_id: uuid.UUID) -> Record | None:
    return await conn.fetchrow("SELECT * FROM readings WHERE id = $1", reading_id)


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


@functools.cache
def _insert_reading(names: tuple[str, ...], *, guarded: bool = False) -> str:
    """The INSERT of a reading; ``guarded``: only if ``readings_unchanged`` (its six
    arguments follow the values). Written once per set of columns: the callers pass the same
    few sets on every reading (and the driver's statement cache finds the same text)."""
    n = len(names)
    values = ", ".join(f"${i}" for i in range(1, n + 1))
    if not guarded:
        return f"INSERT INTO readings ({', '.join(names)}) VALUES ({values}) RETURNING *"
    guard = ", ".join(f"${i}" for i in range(n + 1, n + 7))
    return (
        f"INSERT INTO readings ({', '.join(names)}) SELECT {values}"
        f" WHERE readings_unchanged({guard}) RETURNING *"
    )


async def insert_reading(conn: Conn, **values: Any) -> Record:
    row = await conn.fetchrow(_insert_reading(tuple(values)), *values.values())
    assert row is not None
    return row


async def insert_reading_with_events(
    conn: asyncpg.Connection,
    outbox: Outbox,
    events: Sequence[tuple[Event, str | None]],
    unchanged: tuple[str, str, dt.date, str | None, int, str] | None = None,
    **values: Any,
) -> Record | None:
    """``insert_reading`` and the rows of its ``events`` in the outbox as one statement: one
    round trip, where the two took two on every reading submitted. ``unchanged`` (serial,
    client, day, idempotency key, baseline window, fingerprint): the meter locked by the
    statement itself, and nothing written (None) unless ``readings_unchanged`` says the
    meter's state is the one the reading was judged on."""
    sql = _insert_reading(tuple(values), guarded=unchanged is not None)
    rows = await outbox.fetch_with_events(conn, events, sql, *values.values(), *(unchanged or ()))
    return rows[0] if rows else None


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
    """A page of the meter's readings and how many there are: one round trip (the count
    rides on each row), a second only for a page past the end."""
    where = """FROM readings WHERE meter_serial = $1 AND client_number = $2 AND read_on >= $3
               AND superseded_at IS NULL"""
    rows = await conn.fetch(
        f"SELECT *, count(*) OVER () AS total {where} ORDER BY read_on DESC,"
        " CASE role WHEN 'initial' THEN 0 WHEN 'regular' THEN 1 ELSE 2 END DESC,"
        " submitted_at DESC LIMIT $4 OFFSET $5",
        serial,
        client_number,
        since,
        limit,
        offset,
    )
    if rows:
        return int(rows[0]["total"]), rows
    if offset == 0:
        return 0, []
    total = await conn.fetchval(f"SELECT count(*) {where}", serial, client_number, since)
    return int(total), rows


async def client_readings_page(
    conn: Conn, serial: str, client_number: str, limit: int, offset: int
) -> tuple[dt.date, int, list[Record]] | None:
    """``readings_page`` of a client's meter since its contract began, with that start, in
    one round trip where the meter's check and the page took two: (since, total, rows); None
    if the meter is not the client's, or for a page past the end (ask the two apart then)."""
    rows = await conn.fetch(
        """SELECT c.concluded_on AS since, count(r.id) OVER () AS total, r.*
             FROM meters m
             JOIN contracts c ON c.contract_number = m.contract_number
                             AND c.client_number = $2
             LEFT JOIN readings r ON r.meter_serial = m.serial AND r.client_number = $2
                                 AND r.read_on >= c.concluded_on AND r.superseded_at IS NULL
            WHERE m.serial = $1
            ORDER BY r.read_on DESC,
                     CASE r.role WHEN 'initial' THEN 0 WHEN 'regular' THEN 1 ELSE 2 END DESC,
                     r.submitted_at DESC
            LIMIT $3 OFFSET $4""",
        serial,
        client_number,
        limit,
        offset,
    )
    if not rows:
        return None
    since, total = rows[0]["since"], int(rows[0]["total"])
    return since, total, [r for r in rows if r["id"] is not None]


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


async def queue_counts(conn: Conn) -> dict[str, int]:
    """The operators' two queues: readings to verify, garden-meter requests to decide."""
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM readings WHERE status = 'to_verify'"
        " AND superseded_at IS NULL) AS readings_to_verify,"
        " (SELECT count(*) FROM garden_requests WHERE status = 'submitted')"
        " AS garden_meter_requests"
    )
    return {key: int(value) for key, value in dict(row).items()}


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


def _upto(covered: str) -> str:
    """SQL of the litres of an interval spread over its first ``covered`` days, half up:
    ``readings.consumption.spread``'s ``(2 * litres * covered + total) // (2 * total)``, its
    floor division spelt out (SQL's ``/`` truncates towards zero)."""
    x, y = f"(2 * i.used * ({covered}) + i.total)", "(2 * i.total)"
    return f"({x} - (({x} % {y}) + {y}) % {y}) / {y}"


# Water per month, derived in PostgreSQL from the accepted live readings (the rule is
# ``readings.consumption.monthly_consumption``; the tests hold this to it): each interval
# between consecutive registers of a meter is spread over the days after the first up to
# the second, cut at month ends in proportion to the days (whole litres, half up, the parts
# adding up exactly); a same-day interval puts all on that day and measures no day. Months
# are counted on the calendar of the dates alone (integers, no time zone involved). Days
# measured: the union of the main meters' intervals within the month. Only the few months
# asked for cross the wire, not every reading (the Python loop over them was most of the
# request's CPU).
_MONTHLY = f"""
WITH points AS (
    SELECT m.kind, r.read_on, (r.value * 1000)::bigint AS litres,
           lag(r.read_on) OVER w AS prev_on, lag((r.value * 1000)::bigint) OVER w AS prev_litres
      FROM readings r JOIN meters m ON m.serial = r.meter_serial
     WHERE r.client_number = $1 AND r.status = 'accepted' AND r.superseded_at IS NULL
       AND ($2::text IS NULL OR r.contract_number = $2)
    WINDOW w AS (PARTITION BY r.meter_serial ORDER BY r.read_on,
                 CASE r.role WHEN 'initial' THEN 0 WHEN 'regular' THEN 1 ELSE 2 END,
                 r.submitted_at, r.id)
), intervals AS (
    SELECT kind, prev_on, read_on, litres - prev_litres AS used, read_on - prev_on AS total
      FROM points WHERE prev_on IS NOT NULL
), parts AS (
    SELECT kind, read_on AS first, read_on AS last, used AS litres, false AS measured
      FROM intervals WHERE total <= 0
    UNION ALL
    SELECT i.kind, p.first, p.last,
           {_upto("p.last - i.prev_on")} - {_upto("p.first - 1 - i.prev_on")},
           i.kind = 'main'
      FROM intervals i CROSS JOIN LATERAL (
          SELECT greatest(make_date(n / 12, n % 12 + 1, 1), i.prev_on + 1) AS first,
                 least(make_date((n + 1) / 12, (n + 1) % 12 + 1, 1) - 1, i.read_on) AS last
            FROM generate_series(
                   extract(year FROM i.prev_on + 1)::int * 12
                     + extract(month FROM i.prev_on + 1)::int - 1,
                   extract(year FROM i.read_on)::int * 12 + extract(month FROM i.read_on)::int - 1
                 ) AS n
      ) p
     WHERE i.total > 0
), months AS (
    SELECT to_char(first, 'YYYY-MM') AS month,
           coalesce(sum(litres) FILTER (WHERE kind = 'main'), 0)::bigint AS main,
           coalesce(sum(litres) FILTER (WHERE kind = 'garden'), 0)::bigint AS garden
      FROM parts GROUP BY 1
), spans AS (
    SELECT to_char(first, 'YYYY-MM') AS month, first, last,
           max(last) OVER (PARTITION BY to_char(first, 'YYYY-MM') ORDER BY first, last
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reached
      FROM parts WHERE measured
), days AS (
    SELECT month, sum(greatest(0, last - greatest(first, reached + 1) + 1))::int AS days
      FROM spans GROUP BY month
)
SELECT month, main, garden, coalesce(days, 0) AS days
  FROM months LEFT JOIN days USING (month)
 WHERE ($3::text IS NULL OR month >= $3) AND ($4::text IS NULL OR month <= $4)
 ORDER BY month
"""


async def monthly_consumption(
    conn: Conn,
    client_number: str,
    contract_number: str | None,
    first: str | None = None,
    last: str | None = None,
) -> list[Record]:
    """Per month (YYYY-MM, from ``first`` to ``last`` if given) with any water: ``main`` and
    ``garden`` litres and the ``days`` main meters measured, of the client's meters (of one
    contract, if named)."""
    return await conn.fetch(_MONTHLY, client_number, contract_number, first, last)


async def client_readings(conn: Conn, client_number: str) -> list[Record]:
    return await conn.fetch(
        f"SELECT * FROM readings WHERE client_number = $1 ORDER BY meter_serial, {_ORDER}",
        client_number,
    )


async def last_read_on(conn: Conn, serial: str) -> dt.date | None:
    value: dt.date | None = await conn.fetchval(
        """SELECT max(read_on) FROM readings WHERE meter_serial = $1 AND role = 'regular'
             AND status <> 'rejected' AND superseded_at IS NULL""",
        serial,
    )
    return value


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


async def window_config(conn: Conn, *, stored: bool = False) -> tuple[str, list[Record]]:
    """The mode and the windows that apply (``stored``: the windows kept whatever the mode),
    in one round trip (every reading submitted asks)."""
    rows = await conn.fetch(
        """SELECT m.mode, w.* FROM reading_window_mode m
             LEFT JOIN reading_windows w ON m.mode <> 'always' OR $1
            WHERE m.id = 1 ORDER BY w.opens_on""",
        stored,
    )
    mode = str(rows[0]["mode"]) if rows else None
    return str(mode), [r for r in rows if r["opens_on"] is not None]


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
