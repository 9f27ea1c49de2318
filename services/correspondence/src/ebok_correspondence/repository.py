"""correspondence SQL: every query of this service, plain asyncpg."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import asyncpg
from ebok_shared.bus import Event, Outbox
from ebok_shared.http.params import Page

from .domain import OPEN_STATUSES

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool

# -- projections of billing's events ---------------------------------------------------------


async def remember_invoice(conn: Conn, invoice_number: str, client_number: str) -> None:
    await conn.execute(
        "INSERT INTO known_invoices (invoice_number, client_number) VALUES ($1, $2)"
        " ON CONFLICT (invoice_number) DO UPDATE SET client_number = EXCLUDED.client_number",
        invoice_number,
        client_number,
    )


async def remember_meters(
    conn: Conn, serials: Sequence[str], client_number: str, contract_number: str
) -> None:
    await conn.execute(
        "INSERT INTO known_meters (serial, client_number, contract_number)"
        " SELECT unnest($1::text[]), $2, $3 ON CONFLICT DO NOTHING",
        list(serials),
        client_number,
        contract_number,
    )


async def owns_invoice(conn: Conn, client_number: str, invoice_number: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM known_invoices WHERE invoice_number = $1 AND client_number = $2",
            invoice_number,
            client_number,
        )
    )


async def owns_meter(conn: Conn, client_number: str, serial: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM known_meters WHERE serial = $1 AND client_number = $2",
            serial,
            client_number,
        )
    )


# -- submitting ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewCase:
    id: uuid.UUID
    client_number: str
    kind: str
    urgent: bool
    details: dict[str, Any]
    contact_phone: str | None
    submitted_at: dt.datetime
    reply_due: dt.date | None
    idempotency_key: str | None
    request_hash: str
    submit_response: dict[str, Any]


@dataclass(frozen=True)
class NewAttachment:
    id: uuid.UUID
    case_id: uuid.UUID
    position: int
    filename: str
    content_type: str
    size: int
    sha256: str
    added_at: dt.datetime | None = None  # None: sent with the document
    reply_id: uuid.UUID | None = None  # an operator's reply it came with (None: the customer's)


async def submitted_with_key(conn: Conn, client_number: str, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, request_hash, submit_response FROM cases"
        " WHERE client_number = $1 AND idempotency_key = $2",
        client_number,
        key,
    )


class KeyAlreadyUsed(Exception):
    """This client already sent a case with this Idempotency-Key: nothing was written."""


async def insert_submitted_case(
    conn: Conn,
    outbox: Outbox,
    case: NewCase,
    attachments: Sequence[tuple[NewAttachment, bytes | memoryview]],
    events: Sequence[tuple[Event, str | None]],
    *,
    number_prefix: str,
    year: int,
) -> str:
    """A sent document as one statement, one round trip: its attachments (each of one
    stored chunk, with its bytes), the year's next number, the case with its "submitted"
    history line, and its events in the outbox; the case's number. ``case.number`` and the
    events' ``case_number`` are stand-ins the statement replaces with the number it takes
    (``case.submit_response["number"]`` too). On a pool (or outside a transaction) the
    statement is its own transaction; the year's counter row is locked after the files'
    bytes are written, until the commit, so numbers rise in commit order. Raises
    ``KeyAlreadyUsed`` (everything undone, the number too) for a key this client used."""
    rows = [a for a, _ in attachments]
    try:
        found = await outbox.fetch_with_events(
            conn,
            events,
            "SELECT number FROM new_case",
            case.id,
            case.client_number,
            case.kind,
            case.urgent,
            case.details,
            case.contact_phone,
            case.submitted_at,
            case.reply_due,
            case.idempotency_key,
            case.request_hash,
            case.submit_response,
            number_prefix,
            year,
            {"attachments": len(rows)},
            [a.id for a in rows],
            [a.position for a in rows],
            [a.filename for a in rows],
            [a.content_type for a in rows],
            [a.size for a in rows],
            [a.sha256 for a in rows],
            *(data for _, data in attachments),
            before=_submitted_case(len(rows)),
            filled=("case_number", "number"),
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "cases_idempotency_key_idx":
            raise KeyAlreadyUsed from None
        raise
    number: str = found[0]["number"]
    return number


# The parts of a sent document's statement (``insert_submitted_case``), before the events.
# Each file's bytes are a parameter of their own ($21, $22, …: a bytea array would cost one
# more copy of every byte, in the driver and in the server). The counter reads the chunks'
# count, so it runs once their bytes are written; the number is ``domain.case_number``'s
# form (six digits at least). No ON CONFLICT on the key: a repeat fails the whole statement,
# which undoes the files and the number with it.
@functools.cache
def _submitted_case(files: int) -> str:
    values = ", ".join(f"(($15::uuid[])[{i + 1}], 0, ${21 + i})" for i in range(files))
    chunks = (
        f"INSERT INTO attachment_chunks (attachment_id, seq, data) VALUES {values} RETURNING 1"
        if files
        else "SELECT 1 WHERE false"
    )
    return f"""
files AS (
    INSERT INTO attachments (id, case_id, position, filename, content_type, size, sha256)
    SELECT f.id, $1, f.position, f.filename, f.content_type, f.size, f.sha256
      FROM unnest($15::uuid[], $16::int2[], $17::text[], $18::text[], $19::int[],
                  $20::text[]) AS f (id, position, filename, content_type, size, sha256)
),
chunks AS ({chunks}),
counter AS (
    INSERT INTO case_counters AS k (year, last_number)
    SELECT $13::int, 1 FROM (SELECT count(*) FROM chunks) AS written
    ON CONFLICT (year) DO UPDATE SET last_number = k.last_number + 1
    RETURNING last_number::text AS n
),
numbered AS (
    SELECT $12::text || '/' || $13::int || '/' || lpad(n, greatest(6, length(n)), '0')
           AS number
      FROM counter
),
new_case AS (
    INSERT INTO cases (id, number, client_number, kind, urgent, status, details,
        contact_phone, submitted_at, reply_due, updated_at, idempotency_key, request_hash,
        submit_response)
    SELECT $1, number, $2, $3, $4, 'received', $5, $6, $7, $8, $7, $9, $10,
           jsonb_set($11::jsonb, '{{number}}', to_jsonb(number))
      FROM numbered
    RETURNING id, number
),
history AS (
    INSERT INTO case_history (case_id, at, actor_kind, actor, action, details)
    SELECT id, $7, 'customer', $2, 'submitted', $14 FROM new_case
)"""


_INSERT_ATTACHMENT = """INSERT INTO attachments
    (id, case_id, position, filename, content_type, size, sha256, added_at, reply_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"""


async def insert_attachment(
    conn: asyncpg.Connection, attachment: NewAttachment, chunks: AsyncIterable[bytes | memoryview]
) -> None:
    """The attachment's row and its bytes, in stored chunks. A file of one chunk (up to
    1 MiB, most scans) goes in one statement with its row; a larger one is copied in."""
    values = (
        attachment.id,
        attachment.case_id,
        attachment.position,
        attachment.filename,
        attachment.content_type,
        attachment.size,
        attachment.sha256,
        attachment.added_at,
        attachment.reply_id,
    )
    stream = aiter(chunks)
    first = await anext(stream, None)
    second = await anext(stream, None) if first is not None else None
    if first is not None and second is None:
        # One round trip instead of three (the row, then COPY's start and its data).
        await conn.execute(
            f"""WITH attachment AS ({_INSERT_ATTACHMENT})
                INSERT INTO attachment_chunks (attachment_id, seq, data) VALUES ($1, 0, $10)""",
            *values,
            first,
        )
        return
    await conn.execute(_INSERT_ATTACHMENT, *values)
    if first is None or second is None:  # no bytes (the readers refuse an empty file)
        return

    async def records() -> AsyncIterable[tuple[uuid.UUID, int, bytes | memoryview]]:
        yield (attachment.id, 0, first)
        yield (attachment.id, 1, second)
        seq = 2
        async for chunk in stream:
            yield (attachment.id, seq, chunk)
            seq += 1

    await conn.copy_records_to_table(
        "attachment_chunks", records=records(), columns=["attachment_id", "seq", "data"]
    )


async def add_history(
    conn: asyncpg.Connection,
    case_id: uuid.UUID,
    at: dt.datetime,
    actor_kind: str,
    actor: str,
    action: str,
    details: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO case_history (case_id, at, actor_kind, actor, action, details)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        case_id,
        at,
        actor_kind,
        actor,
        action,
        details or {},
    )


# -- reading ------------------------------------------------------------------------------------

_CASE_COLUMNS = """c.id, c.number, c.client_number, c.kind, c.urgent, c.status, c.details,
    c.contact_phone, c.submitted_at, c.reply_due, c.evidence_needed_at, c.evidence_note,
    c.assignee, c.closed_at, c.updated_at, c.unlinked_at"""


def _status_filter(status: str | None) -> list[str] | None:
    if status is None:
        return None
    return [s.value for s in OPEN_STATUSES] if status == "open" else [status]


async def customer_cases(
    conn: Conn, client_number: str, status: str | None, kind: str | None, page: Page
) -> tuple[list[asyncpg.Record], int]:
    """The account's cases, newest first, and how many there are: one round trip (the count
    rides on each row), a second only for a page past the end."""
    where = """c.client_number = $1 AND c.unlinked_at IS NULL
        AND ($2::text[] IS NULL OR c.status = ANY($2)) AND ($3::text IS NULL OR c.kind = $3)"""
    args = (client_number, _status_filter(status), kind)
    rows = await conn.fetch(
        f"SELECT {_CASE_COLUMNS}, count(*) OVER () AS total FROM cases c WHERE {where}"
        " ORDER BY c.submitted_at DESC, c.number DESC LIMIT $4 OFFSET $5",
        *args,
        page.size,
        page.offset,
    )
    if rows:
        return rows, int(rows[0]["total"])
    if page.offset == 0:
        return rows, 0
    total: int = await conn.fetchval(f"SELECT count(*) FROM cases c WHERE {where}", *args)
    return rows, total


async def customer_case(
    conn: Conn, client_number: str, case_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_CASE_COLUMNS} FROM cases c"
        " WHERE c.id = $1 AND c.client_number = $2 AND c.unlinked_at IS NULL",
        case_id,
        client_number,
    )


async def all_customer_cases(conn: Conn, client_number: str, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_CASE_COLUMNS} FROM cases c"
        " WHERE c.client_number = $1 AND c.unlinked_at IS NULL"
        " ORDER BY c.submitted_at DESC, c.number DESC LIMIT $2",
        client_number,
        limit,
    )


async def case_by_id(conn: Conn, case_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_CASE_COLUMNS} FROM cases c WHERE c.id = $1", case_id)


async def attachments_of(
    conn: Conn, case_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[asyncpg.Record]]:
    rows = await conn.fetch(
        "SELECT id, case_id, position, filename, content_type, size, sha256, added_at,"
        " reply_id FROM attachments"
        " WHERE case_id = ANY($1::uuid[]) ORDER BY case_id, position",
        list(case_ids),
    )
    found: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for row in rows:
        found.setdefault(row["case_id"], []).append(row)
    return found


async def replies_of(
    conn: Conn, case_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[asyncpg.Record]]:
    rows = await conn.fetch(
        "SELECT id, case_id, author, body, created_at FROM replies"
        " WHERE case_id = ANY($1::uuid[]) ORDER BY case_id, created_at, id",
        list(case_ids),
    )
    found: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for row in rows:
        found.setdefault(row["case_id"], []).append(row)
    return found


async def history_of(conn: Conn, case_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT at, actor_kind, actor, action, details FROM case_history"
        " WHERE case_id = $1 ORDER BY id",
        case_id,
    )


async def attachment(
    conn: Conn, case_id: uuid.UUID, attachment_id: uuid.UUID, client_number: str | None
) -> asyncpg.Record | None:
    """The attachment, if it belongs to this case and (for a customer) the case to the
    customer's account; operators pass ``client_number=None``."""
    return await conn.fetchrow(
        """SELECT a.id, a.filename, a.content_type, a.size, a.sha256
           FROM attachments a JOIN cases c ON c.id = a.case_id
           WHERE a.id = $1 AND a.case_id = $2
             AND ($3::text IS NULL OR (c.client_number = $3 AND c.unlinked_at IS NULL))""",
        attachment_id,
        case_id,
        client_number,
    )


async def chunk_count(conn: Conn, attachment_id: uuid.UUID) -> int:
    value: int = await conn.fetchval(
        "SELECT count(*) FROM attachment_chunks WHERE attachment_id = $1", attachment_id
    )
    return value


async def chunk(conn: Conn, attachment_id: uuid.UUID, seq: int) -> bytes | None:
    data: bytes | None = await conn.fetchval(
        "SELECT data FROM attachment_chunks WHERE attachment_id = $1 AND seq = $2",
        attachment_id,
        seq,
    )
    return data


async def operator_queue(
    conn: Conn, status: str | None, kind: str | None, assignee: str | None, page: Page
) -> tuple[list[asyncpg.Record], int]:
    """Urgent failure reports first, then the nearest reply deadline, then the oldest."""
    where = """($1::text[] IS NULL OR c.status = ANY($1)) AND ($2::text IS NULL OR c.kind = $2)
        AND ($3::text IS NULL OR c.assignee = $3)"""
    args = (_status_filter(status), kind, assignee)
    total: int = await conn.fetchval(f"SELECT count(*) FROM cases c WHERE {where}", *args)
    rows = await conn.fetch(
        f"SELECT {_CASE_COLUMNS} FROM cases c WHERE {where}"
        " ORDER BY (c.kind = 'failure_report' AND c.urgent) DESC, c.reply_due ASC NULLS LAST,"
        " c.submitted_at, c.number LIMIT $4 OFFSET $5",
        *args,
        page.size,
        page.offset,
    )
    return rows, total


async def queue_counts(conn: Conn, today: dt.date) -> dict[str, int]:
    row = await conn.fetchrow(
        "SELECT count(*) AS open,"
        " count(*) FILTER (WHERE c.kind = 'failure_report' AND c.urgent) AS urgent,"
        " count(*) FILTER (WHERE c.assignee IS NULL) AS unassigned,"
        " count(*) FILTER (WHERE c.evidence_needed_at IS NOT NULL) AS evidence_needed,"
        " count(*) FILTER (WHERE c.reply_due < $2) AS overdue"
        " FROM cases c WHERE c.status = ANY($1)",
        [s.value for s in OPEN_STATUSES],
        today,
    )
    return {key: int(value) for key, value in dict(row).items()}


# -- operator changes ---------------------------------------------------------------------------


async def customer_case_for_update(
    conn: asyncpg.Connection, client_number: str, case_id: uuid.UUID
) -> asyncpg.Record | None:
    """The account's own case, locked, with the number of attachments it has."""
    return await conn.fetchrow(
        f"SELECT {_CASE_COLUMNS},"
        # the customer's own files (the limit of a case is theirs; an operator's are apart)
        " (SELECT count(*) FROM attachments a WHERE a.case_id = c.id AND a.reply_id IS NULL)"
        " AS attachment_count,"
        " (SELECT coalesce(max(position), -1) FROM attachments a WHERE a.case_id = c.id)"
        " AS last_position"
        " FROM cases c WHERE c.id = $1 AND c.client_number = $2 AND c.unlinked_at IS NULL"
        " FOR UPDATE OF c",
        case_id,
        client_number,
    )


async def case_for_update(conn: asyncpg.Connection, case_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_CASE_COLUMNS}, (SELECT count(*) FROM replies r WHERE r.case_id = c.id)"
        " AS replies,"
        " (SELECT coalesce(max(position), -1) FROM attachments a WHERE a.case_id = c.id)"
        " AS last_position FROM cases c WHERE c.id = $1 FOR UPDATE",
        case_id,
    )


async def update_case(
    conn: asyncpg.Connection, case_id: uuid.UUID, at: dt.datetime, **changes: Any
) -> None:
    allowed = {
        "status",
        "assignee",
        "reply_due",
        "evidence_needed_at",
        "evidence_note",
        "closed_at",
    }
    if not changes or set(changes) - allowed:
        raise ValueError(f"cannot update {sorted(set(changes) - allowed)}")
    names = sorted(changes)
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=3))
    await conn.execute(
        f"UPDATE cases SET {sets}, updated_at = $2 WHERE id = $1",
        case_id,
        at,
        *(changes[n] for n in names),
    )


async def add_reply(
    conn: asyncpg.Connection,
    reply_id: uuid.UUID,
    case_id: uuid.UUID,
    author: str,
    body: str,
    at: dt.datetime,
) -> None:
    await conn.execute(
        "INSERT INTO replies (id, case_id, author, body, created_at) VALUES ($1, $2, $3, $4, $5)",
        reply_id,
        case_id,
        author,
        body,
        at,
    )


# -- privacy ----------------------------------------------------------------------------------


async def unlink_account(
    conn: asyncpg.Connection, client_number: str, at: dt.datetime
) -> list[uuid.UUID]:
    """The deleted account's cases stay, unlinked and without contact data: the contact phone
    of every case and the new phone and e-mail of data-change requests."""
    rows = await conn.fetch(
        """UPDATE cases SET unlinked_at = $2, updated_at = $2, contact_phone = NULL,
               details = CASE WHEN kind = 'data_change'
                   THEN jsonb_set(details, '{changes}', (details->'changes') - 'phone' - 'email')
                   ELSE details END
           WHERE client_number = $1 AND unlinked_at IS NULL
           RETURNING id""",
        client_number,
        at,
    )
    return [r["id"] for r in rows]
