"""The use cases, each one transaction: the state change, its history line and its events
(``outbox.add_events`` in the same transaction: nothing lost, nothing twice)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from ebok_shared.bus import Outbox
from ebok_shared.clock import clock

from . import domain, events
from . import repository as repo
from .documents import Document
from .domain import Kind, RuleBroken, Status
from .settings import CorrespondenceSettings
from .upload import Upload


class KeyReused(Exception):
    """The Idempotency-Key was used before for a different document."""


@dataclass(frozen=True)
class Submitted:
    response: dict[str, Any]
    replayed: bool


class _AlreadySubmitted(Exception):
    pass


async def replay(
    pool: asyncpg.Pool, client_number: str, key: str | None, request_hash: str
) -> Submitted | None:
    """The first answer to a request sent again with the same Idempotency-Key."""
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
    now = clock.now()
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
    try:
        async with pool.acquire() as conn, conn.transaction():
            for attachment, upload in zip(attachments, uploads, strict=True):
                await repo.insert_attachment(conn, attachment, upload.chunks())
            # Last: the year's counter stays locked only for the few statements left.
            sequence = await repo.next_case_sequence(conn, domain.local_year(now))
            number = domain.case_number(
                settings.case_number_prefix, domain.local_year(now), sequence
            )
            case = {
                "id": case_id,
                "number": number,
                "client_number": client_number,
                "kind": document.kind.value,
                "urgent": domain.is_urgent(document.kind),
                "details": document.details,
                "submitted_at": now,
                "reply_due": due,
                "unlinked_at": None,
            }
            response = submitted_view(case, shown_attachments)
            inserted = await repo.insert_case(
                conn,
                repo.NewCase(
                    id=case_id,
                    number=number,
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
                ),
            )
            if not inserted:
                raise _AlreadySubmitted  # undoes the attachments and the number
            await repo.add_history(
                conn,
                case_id,
                now,
                "customer",
                client_number,
                "submitted",
                {"attachments": len(attachments)},
            )
            published = [
                events.new(
                    events.CASE_SUBMITTED, case_id, events.case_submitted(case, len(attachments))
                )
            ]
            refs = shown_attachments
            if document.kind is Kind.DATA_CHANGE:
                published.append(
                    events.new(
                        events.DATA_CHANGE_REQUESTED,
                        case_id,
                        events.data_change_requested(case, refs),
                    )
                )
            elif document.kind is Kind.REKLAMACJA:
                published.append(
                    events.new(
                        events.REKLAMACJA_FILED, case_id, events.reklamacja_filed(case, refs)
                    )
                )
            await outbox.add_events(conn, published)
    except _AlreadySubmitted:
        again = await replay(pool, client_number, idempotency_key, request_hash)
        assert again is not None  # the row that stopped the insert is committed
        return again
    return Submitted(response, replayed=False)


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
        "attachments": attachments,
    }


# -- operator actions -------------------------------------------------------------------------


class CaseNotFound(Exception):
    pass


async def _locked(conn: asyncpg.Connection, case_id: uuid.UUID) -> asyncpg.Record:
    row = await repo.case_for_update(conn, case_id)
    if row is None:
        raise CaseNotFound
    return row


async def assign(pool: asyncpg.Pool, outbox: Outbox, case_id: uuid.UUID, operator_id: str) -> None:
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


async def reply(
    pool: asyncpg.Pool, outbox: Outbox, case_id: uuid.UUID, operator_id: str, body: str
) -> uuid.UUID:
    now = clock.now()
    reply_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        case = await _locked(conn, case_id)
        status = domain.check_reply(Status(case["status"]))
        await repo.add_reply(conn, reply_id, case_id, operator_id, body, now)
        await repo.update_case(conn, case_id, now, status=status.value)
        await repo.add_history(
            conn, case_id, now, "operator", operator_id, "answered", {"reply_id": str(reply_id)}
        )
        await outbox.add_events(
            conn,
            [events.new(events.CASE_ANSWERED, case_id, events.case_answered(case, reply_id, now))],
        )
    return reply_id


async def change_status(
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


async def evidence_needed(
    pool: asyncpg.Pool,
    case_id: uuid.UUID,
    operator_id: str,
    note: str | None,
    extension_days: int,
) -> dt.date:
    """Evidence is needed: the reply deadline moves by the configured period; the new date."""
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        case = await _locked(conn, case_id)
        domain.check_evidence(
            Kind(case["kind"]), Status(case["status"]), case["evidence_needed_at"]
        )
        due = domain.extended_due(case["reply_due"], extension_days)
        await repo.update_case(conn, case_id, now, reply_due=due, evidence_needed_at=now)
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


async def close(
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


__all__ = ["CaseNotFound", "KeyReused", "RuleBroken", "Submitted"]
