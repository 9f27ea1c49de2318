"""The use cases, one async function per action. A change is one transaction: the state
change, its history line and its events (``outbox.add_events`` in the same transaction:
nothing lost, nothing twice). They raise the domain's refusals (``ebok_shared.refusals``),
never HTTP problems; they return JSON-ready answers (``views``)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from ebok_shared.bus import Event, Outbox
from ebok_shared.clock import clock
from ebok_shared.http.idempotency import KeyReused
from ebok_shared.http.params import Page
from ebok_shared.logs import get_logger
from ebok_shared.refusals import Refusal

from . import domain, events, views
from . import repository as repo
from .documents import Document
from .domain import AttachmentNotFound, CaseNotFound, Kind, Status
from .settings import CorrespondenceSettings
from .upload import Upload

log = get_logger(__name__)

EXPORT_MAX_CASES = 10_000


@dataclass(frozen=True)
class Submitted:
    response: dict[str, Any]
    replayed: bool


async def _replay(
    pool: asyncpg.Pool, client_number: str, key: str | None, request_hash: str
) -> Submitted | None:
    """The first answer to a request sent again with the same Idempotency-Key. The key is
    kept with the case itself (not in the shared idempotency table): a retried form has a new
    multipart boundary but the same ``request_hash`` (what it means), and concurrent sends
    with one key all get the one case's answer rather than "in progress"."""
    if key is None:
        return None
    row = await repo.submitted_with_key(pool, client_number, key)
    if row is None:
        return None
    if row["request_hash"] != request_hash:
        raise KeyReused
    return Submitted(row["submit_response"], replayed=True)


async def submit(
    pool: asyncpg.Pool,
    outbox: Outbox,
    settings: CorrespondenceSettings,
    *,
    client_number: str,
    document: Document,
    uploads: list[Upload],
    idempotency_key: str | None,
    request_hash: str,
) -> Submitted:
    """Send a document: the first answer again for a repeated key, else a new case.

    A repeated key is found by the case's own insert (its unique key stops it, and the first
    answer is read then): a first send, nearly every send, makes no lookup of its own. A
    repeat costs the writing of its attachments again, undone."""
    try:
        await _check_ownership(pool, client_number, document)
    except Refusal:
        # A repeat is answered as the first time was, even if the invoice or meter it names
        # is no longer the client's.
        done = await _replay(pool, client_number, idempotency_key, request_hash)
        if done is not None:
            return done
        raise
    return await _insert(
        pool,
        outbox,
        settings,
        client_number=client_number,
        document=document,
        uploads=uploads,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )


async def _check_ownership(pool: asyncpg.Pool, client_number: str, document: Document) -> None:
    """A reklamacja names an invoice or a meter of the client's own (one never learns whether
    someone else's exists: the answer is the same)."""
    if document.invoice_number is not None and not await repo.owns_invoice(
        pool, client_number, document.invoice_number
    ):
        raise domain.not_your_invoice()
    if document.meter_serial is not None and not await repo.owns_meter(
        pool, client_number, document.meter_serial
    ):
        raise domain.not_your_meter()


async def _insert(
    pool: asyncpg.Pool,
    outbox: Outbox,
    settings: CorrespondenceSettings,
    *,
    client_number: str,
    document: Document,
    uploads: list[Upload],
    idempotency_key: str | None,
    request_hash: str,
) -> Submitted:
    now = clock.now()
    year = domain.local_year(now)
    case_id = uuid.uuid4()
    due = domain.reply_due(document.kind, now, settings.reply_days)
    attachments = [
        repo.NewAttachment(
            id=uuid.uuid4(),
            case_id=case_id,
            position=u.position,
            filename=u.filename,
            content_type=u.content_type,
            size=u.size,
            sha256=u.sha256,
        )
        for u in uploads
    ]
    shown_attachments = [
        {"id": str(a.id), "filename": a.filename, "content_type": a.content_type, "size": a.size}
        for a in attachments
    ]
    # The number is taken by the statement that writes the case (repo.insert_submitted_case):
    # until then the answer and the events carry a stand-in of its form, made of the case's
    # random id (unknown when the customer wrote, so nothing they wrote can repeat it).
    stand_in = domain.case_number(
        settings.case_number_prefix, year, 10**11 + case_id.int % (9 * 10**11)
    )
    case: dict[str, Any] = {
        "id": case_id,
        "number": stand_in,
        "client_number": client_number,
        "kind": document.kind.value,
        "urgent": domain.is_urgent(document.kind),
        "details": document.details,
        "submitted_at": now,
        "reply_due": due,
        "unlinked_at": None,
    }
    response = submitted_view(case, shown_attachments)
    published: list[tuple[Event, str | None]] = [
        events.new(events.CASE_SUBMITTED, case_id, events.case_submitted(case, len(attachments)))
    ]
    if document.kind is Kind.DATA_CHANGE:
        published.append(
            events.new(
                events.DATA_CHANGE_REQUESTED,
                case_id,
                events.data_change_requested(case, shown_attachments),
            )
        )
    elif document.kind is Kind.REKLAMACJA:
        published.append(
            events.new(
                events.REKLAMACJA_FILED,
                case_id,
                events.reklamacja_filed(case, shown_attachments),
            )
        )
    new_case = repo.NewCase(
        id=case_id,
        client_number=client_number,
        kind=document.kind.value,
        urgent=case["urgent"],
        details=document.details,
        contact_phone=document.contact_phone,
        submitted_at=now,
        reply_due=due,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        submit_response=response,
    )

    async def written(
        conn: asyncpg.Connection | asyncpg.Pool,
        files: Sequence[tuple[repo.NewAttachment, bytes | memoryview]],
    ) -> str:
        return await repo.insert_submitted_case(
            conn,
            outbox,
            new_case,
            files,
            published,
            number_prefix=settings.case_number_prefix,
            year=year,
        )

    inline = _one_chunk_each(attachments, uploads)
    try:
        if inline is not None:
            # Every file is one stored chunk (up to 1 MiB, most scans): everything in one
            # statement, its own transaction.
            number = await written(pool, inline)
        else:
            async with pool.acquire() as conn, conn.transaction():
                for attachment, upload in zip(attachments, uploads, strict=True):
                    await repo.insert_attachment(conn, attachment, upload.chunks())
                number = await written(conn, [])
    except repo.KeyAlreadyUsed:
        again = await _replay(pool, client_number, idempotency_key, request_hash)
        assert again is not None  # the row that stopped the insert is committed
        return again
    return Submitted({**response, "number": number}, replayed=False)


def _one_chunk_each(
    attachments: list[repo.NewAttachment], uploads: list[Upload]
) -> list[tuple[repo.NewAttachment, bytes | memoryview]] | None:
    """Each attachment with its bytes, if every file is one stored chunk; else None."""
    inline = []
    for attachment, upload in zip(attachments, uploads, strict=True):
        data = upload.one_chunk()
        if data is None:
            return None
        inline.append((attachment, data))
    return inline


def submitted_view(case: dict[str, Any], attachments: list[dict[str, Any]]) -> dict[str, Any]:
    """The answer to "send": what the customer needs to know at once."""
    kind, status = Kind(case["kind"]), Status.RECEIVED
    return {
        "id": str(case["id"]),
        "number": case["number"],
        "kind": kind.value,
        "kind_label": domain.KIND_LABELS[kind],
        "status": status.value,
        "status_label": domain.STATUS_LABELS[status],
        "urgent": case["urgent"],
        "submitted_at": case["submitted_at"].isoformat(),
        "reply_due": case["reply_due"].isoformat() if case["reply_due"] else None,
        "reply_days_left": domain.days_left(case["reply_due"], status, clock.today()),
        "attachments": attachments,
    }


async def add_attachments(
    pool: asyncpg.Pool,
    outbox: Outbox,
    *,
    client_number: str,
    case_id: uuid.UUID,
    uploads: list[Upload],
) -> dict[str, Any]:
    """The customer adds files to their own open case (the evidence asked for, or anything
    the case needs); the same limits as sending apply per form, and the case's own limit in
    all. Answers the case as the customer now sees it."""
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        case = await repo.customer_case_for_update(conn, client_number, case_id)
        if case is None:
            raise CaseNotFound
        domain.check_add_attachments(Status(case["status"]), case["attachment_count"], len(uploads))
        # "Add" pressed twice: a file the case already has (the same bytes) is not stored
        # again, so a retried form changes nothing.
        stored = (await repo.attachments_of(conn, [case_id])).get(case_id, [])
        present = {a["sha256"] for a in stored}
        uploads = [u for u in uploads if u.sha256 not in present]
        if not uploads:
            return await customer_case(pool, client_number, case_id)
        first = case["last_position"] + 1
        added = [
            repo.NewAttachment(
                id=uuid.uuid4(),
                case_id=case_id,
                position=first + i,
                filename=u.filename,
                content_type=u.content_type,
                size=u.size,
                sha256=u.sha256,
                added_at=now,
            )
            for i, u in enumerate(uploads)
        ]
        for attachment_, upload in zip(added, uploads, strict=True):
            await repo.insert_attachment(conn, attachment_, upload.chunks())
        await repo.update_case(conn, case_id, now, status=case["status"])  # updated_at
        await repo.add_history(
            conn,
            case_id,
            now,
            "customer",
            client_number,
            "attachments_added",
            {"attachments": [str(a.id) for a in added]},
        )
        refs = [
            {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in added
        ]
        await outbox.add_events(
            conn,
            [
                events.new(
                    events.ATTACHMENTS_ADDED, case_id, events.attachments_added(case, refs, now)
                )
            ],
        )
    return await customer_case(pool, client_number, case_id)


# -- what customers read ----------------------------------------------------------------------


async def customer_history(
    pool: asyncpg.Pool, client_number: str, status: str | None, kind: str | None, page: Page
) -> dict[str, Any]:
    """Every document the customer sent through e-BOK, newest first, with its replies."""
    async with pool.acquire() as conn:  # one connection for the page and what it shows
        rows, total = await repo.customer_cases(conn, client_number, status, kind, page)
        ids = [r["id"] for r in rows]
        attachments = await repo.attachments_of(conn, ids) if ids else {}
        replies = await repo.replies_of(conn, ids) if ids else {}
    items: list[object] = [
        views.customer_case(
            r, attachments.get(r["id"], []), replies.get(r["id"], []), with_details=False
        )
        for r in rows
    ]
    return page.envelope(items, total)


async def customer_case(
    pool: asyncpg.Pool, client_number: str, case_id: uuid.UUID
) -> dict[str, Any]:
    row = await repo.customer_case(pool, client_number, case_id)
    if row is None:
        raise CaseNotFound
    attachments = await repo.attachments_of(pool, [case_id])
    replies = await repo.replies_of(pool, [case_id])
    return views.customer_case(
        row, attachments.get(case_id, []), replies.get(case_id, []), with_details=True
    )


async def customer_export(pool: asyncpg.Pool, client_number: str) -> dict[str, Any]:
    """This service's part of the customer's data export (terms I.7, GDPR art. 15 and 20):
    every case of the account with its content, attachments (as links) and replies."""
    rows = await repo.all_customer_cases(pool, client_number, EXPORT_MAX_CASES)
    ids = [r["id"] for r in rows]
    attachments = await repo.attachments_of(pool, ids)
    replies = await repo.replies_of(pool, ids)
    cases: list[dict[str, Any]] = [
        views.customer_case(
            r, attachments.get(r["id"], []), replies.get(r["id"], []), with_details=True
        )
        for r in rows
    ]
    return {
        "service": "correspondence",
        "client_number": client_number,
        "exported_at": clock.now().isoformat(),
        "cases": cases,
    }


@dataclass(frozen=True)
class Download:
    """An attachment to stream: its stored facts and its chunks, read one at a time (a
    connection is held per chunk, not for the whole download)."""

    filename: str
    content_type: str
    size: int
    sha256: str
    chunks: AsyncIterator[bytes]


async def attachment(
    pool: asyncpg.Pool, case_id: uuid.UUID, attachment_id: uuid.UUID, client_number: str | None
) -> Download:
    """A case's attachment; for a customer (``client_number``) only of their own case."""
    row = await repo.attachment(pool, case_id, attachment_id, client_number)
    if row is None:
        raise AttachmentNotFound

    async def chunks() -> AsyncIterator[bytes]:
        seq = 0
        while (data := await repo.chunk(pool, attachment_id, seq)) is not None:
            yield data
            seq += 1

    return Download(row["filename"], row["content_type"], row["size"], row["sha256"], chunks())


# -- what operators read ----------------------------------------------------------------------


async def operator_queue(
    pool: asyncpg.Pool, status: str | None, kind: str | None, assignee: str | None, page: Page
) -> dict[str, Any]:
    """Open cases by default; urgent failure reports first, then the nearest deadline."""
    rows, total = await repo.operator_queue(pool, status, kind, assignee, page)
    attachments = await repo.attachments_of(pool, [r["id"] for r in rows])
    today = clock.today()
    items: list[object] = [
        views.operator_case(r, attachments.get(r["id"], []), today=today) for r in rows
    ]
    return page.envelope(items, total)


async def queue_counts(pool: asyncpg.Pool) -> dict[str, int]:
    """The console's home: open cases, the urgent ones, those nobody took, those waiting for
    the customer's evidence, and those past their reply deadline."""
    return await repo.queue_counts(pool, clock.today())


async def operator_case(pool: asyncpg.Pool, case_id: uuid.UUID) -> dict[str, Any]:
    """One case with everything: content, replies, history."""
    row = await repo.case_by_id(pool, case_id)
    if row is None:
        raise CaseNotFound
    attachments = await repo.attachments_of(pool, [case_id])
    replies = await repo.replies_of(pool, [case_id])
    history = await repo.history_of(pool, case_id)
    return views.operator_case(
        row, attachments.get(case_id, []), replies.get(case_id, []), history, today=clock.today()
    )


async def _current(pool: asyncpg.Pool, case_id: uuid.UUID) -> dict[str, Any]:
    """The case as it is after an operator's change (for the operator's screen)."""
    row = await repo.case_by_id(pool, case_id)
    assert row is not None
    attachments = await repo.attachments_of(pool, [case_id])
    return views.operator_case(row, attachments.get(case_id, []), today=clock.today())


# -- operator actions -------------------------------------------------------------------------


async def _locked(conn: asyncpg.Connection, case_id: uuid.UUID) -> asyncpg.Record:
    row = await repo.case_for_update(conn, case_id)
    if row is None:
        raise CaseNotFound
    return row


async def _assign(pool: asyncpg.Pool, outbox: Outbox, case_id: uuid.UUID, operator_id: str) -> None:
    """The operator takes the case; a received case is now in progress."""
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        case = await _locked(conn, case_id)
        status = domain.check_assign(Status(case["status"]))
        if case["assignee"] == operator_id and status.value == case["status"]:
            return  # already theirs: nothing changes, nothing is published
        await repo.update_case(conn, case_id, now, assignee=operator_id, status=status.value)
        await repo.add_history(
            conn,
            case_id,
            now,
            "operator",
            operator_id,
            "assigned",
            {"from": case["assignee"], "status": status.value},
        )
        await outbox.add_events(
            conn,
            [
                events.new(
                    events.CASE_ASSIGNED, case_id, events.case_assigned(case, operator_id, now)
                )
            ],
        )


async def _reply(
    pool: asyncpg.Pool,
    outbox: Outbox,
    case_id: uuid.UUID,
    operator_id: str,
    body: str,
    uploads: Sequence[Upload] = (),
) -> uuid.UUID:
    now = clock.now()
    reply_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        case = await _locked(conn, case_id)
        status = domain.check_reply(Status(case["status"]))
        await repo.add_reply(conn, reply_id, case_id, operator_id, body, now)
        for i, upload in enumerate(uploads):  # the reply's files: the case's, marked as its
            stored = repo.NewAttachment(
                id=uuid.uuid4(),
                case_id=case_id,
                position=case["last_position"] + 1 + i,
                filename=upload.filename,
                content_type=upload.content_type,
                size=upload.size,
                sha256=upload.sha256,
                added_at=now,
                reply_id=reply_id,
            )
            await repo.insert_attachment(conn, stored, upload.chunks())
        await repo.update_case(conn, case_id, now, status=status.value)
        await repo.add_history(
            conn, case_id, now, "operator", operator_id, "answered", {"reply_id": str(reply_id)}
        )
        await outbox.add_events(
            conn,
            [events.new(events.CASE_ANSWERED, case_id, events.case_answered(case, reply_id, now))],
        )
    return reply_id


async def _change_status(
    pool: asyncpg.Pool, case_id: uuid.UUID, operator_id: str, wanted: Status
) -> None:
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        case = await _locked(conn, case_id)
        status = domain.check_status_change(Status(case["status"]), wanted, case["replies"])
        if status.value == case["status"]:
            return
        await repo.update_case(conn, case_id, now, status=status.value)
        await repo.add_history(
            conn,
            case_id,
            now,
            "operator",
            operator_id,
            "status_changed",
            {"from": case["status"], "to": status.value},
        )


async def _evidence_needed(
    pool: asyncpg.Pool,
    outbox: Outbox,
    case_id: uuid.UUID,
    operator_id: str,
    note: str | None,
    extension_days: int,
) -> dt.date:
    """Evidence is needed: the reply deadline moves by the configured period; the request
    (with the operator's note) shows on the customer's case and the customer is e-mailed
    (by the notifier, from the event). The new date."""
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        case = await _locked(conn, case_id)
        domain.check_evidence(
            Kind(case["kind"]), Status(case["status"]), case["evidence_needed_at"]
        )
        due = domain.extended_due(case["reply_due"], extension_days)
        await repo.update_case(
            conn, case_id, now, reply_due=due, evidence_needed_at=now, evidence_note=note
        )
        await outbox.add_events(
            conn,
            [
                events.new(
                    events.EVIDENCE_REQUESTED,
                    case_id,
                    events.evidence_requested(case, due, now),
                )
            ],
        )
        await repo.add_history(
            conn,
            case_id,
            now,
            "operator",
            operator_id,
            "evidence_needed",
            {
                "note": note,
                "reply_due_from": case["reply_due"].isoformat(),
                "reply_due_to": due.isoformat(),
            },
        )
    return due


async def _close(
    pool: asyncpg.Pool, outbox: Outbox, case_id: uuid.UUID, operator_id: str, note: str | None
) -> None:
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        case = await _locked(conn, case_id)
        domain.check_close(Status(case["status"]))
        await repo.update_case(conn, case_id, now, status=Status.CLOSED.value, closed_at=now)
        await repo.add_history(
            conn,
            case_id,
            now,
            "operator",
            operator_id,
            "closed",
            {"from": case["status"], "note": note},
        )
        await outbox.add_events(
            conn,
            [events.new(events.CASE_CLOSED, case_id, events.case_closed(case, operator_id, now))],
        )


# Each operator action answers with the case as it is after the change (for their screen).


async def assign(
    pool: asyncpg.Pool, outbox: Outbox, case_id: uuid.UUID, operator_id: str
) -> dict[str, Any]:
    await _assign(pool, outbox, case_id, operator_id)
    return await _current(pool, case_id)


async def reply(
    pool: asyncpg.Pool,
    outbox: Outbox,
    case_id: uuid.UUID,
    operator_id: str,
    body: str,
    uploads: Sequence[Upload] = (),
) -> dict[str, Any]:
    """The answer, with its files if any: the customer reads it (and downloads the files) in
    e-BOK and is e-mailed only that it is waiting."""
    reply_id = await _reply(pool, outbox, case_id, operator_id, body, uploads)
    return {"reply_id": str(reply_id), "case": await _current(pool, case_id)}


async def change_status(
    pool: asyncpg.Pool, case_id: uuid.UUID, operator_id: str, wanted: Status
) -> dict[str, Any]:
    await _change_status(pool, case_id, operator_id, wanted)
    return await _current(pool, case_id)


async def evidence_needed(
    pool: asyncpg.Pool,
    outbox: Outbox,
    case_id: uuid.UUID,
    operator_id: str,
    note: str | None,
    extension_days: int,
) -> dict[str, Any]:
    await _evidence_needed(pool, outbox, case_id, operator_id, note, extension_days)
    return await _current(pool, case_id)


async def close(
    pool: asyncpg.Pool, outbox: Outbox, case_id: uuid.UUID, operator_id: str, note: str | None
) -> dict[str, Any]:
    await _close(pool, outbox, case_id, operator_id, note)
    return await _current(pool, case_id)


# -- consumed events (in the consumer's transaction) ------------------------------------------


async def remember_invoice(
    conn: asyncpg.Connection, invoice_number: str, client_number: str
) -> None:
    """Remember whose invoice this is: a reklamacja may name only the client's own."""
    await repo.remember_invoice(conn, invoice_number, client_number)


async def remember_meters(
    conn: asyncpg.Connection, serials: list[str], client_number: str, contract_number: str
) -> None:
    """Remember whose meters these are: a reklamacja of a reading names the client's own."""
    await repo.remember_meters(conn, serials, client_number, contract_number)


async def unlink_account(conn: asyncpg.Connection, client_number: str) -> None:
    """The cases stay (the utility keeps its correspondence) but leave the account and lose
    the contact data no longer needed (see README, "Privacy")."""
    unlinked = await repo.unlink_account(conn, client_number, clock.now())
    for case_id in unlinked:
        await repo.add_history(
            conn, case_id, clock.now(), "system", "auth", "unlinked", {"reason": "account deleted"}
        )
    log.info("account's cases unlinked", cases=len(unlinked))
