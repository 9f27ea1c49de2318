"""Cases as customers and operators see them (JSON-ready dicts). Customers never see who in
the utility did what, nor the case's internal history; operators see everything."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
from ebok_shared.clock import clock

from .domain import KIND_LABELS, STATUS_LABELS, WITH_DEADLINE, Kind, Status, days_left

UTILITY_AUTHOR = "Biuro Obsługi Klienta"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def attachment(row: asyncpg.Record | dict[str, Any], base: str) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "filename": row["filename"],
        "content_type": row["content_type"],
        "size": row["size"],
        "path": f"{base}/attachments/{row['id']}",  # under the API root
        # when the customer added it to the open case; None: it came with the document
        "added_at": _iso(row.get("added_at")),
        # the operator's reply it came with; None: the customer's own file
        "reply_id": str(row["reply_id"]) if row.get("reply_id") else None,
    }


def _common(case: asyncpg.Record) -> dict[str, Any]:
    kind, status = Kind(case["kind"]), Status(case["status"])
    due = case["reply_due"] if kind in WITH_DEADLINE else None
    return {
        "id": str(case["id"]),
        "number": case["number"],
        "kind": kind.value,
        "kind_label": KIND_LABELS[kind],
        "status": status.value,
        "status_label": STATUS_LABELS[status],
        "urgent": case["urgent"],
        "submitted_at": _iso(case["submitted_at"]),
        # the date the utility must answer by (reklamacje and complaints)
        "reply_due": _iso(due),
        # days from today to that date while the answer is awaited (0: today, <0: passed)
        "reply_days_left": days_left(due, status, clock.today()),
        "evidence_needed": case["evidence_needed_at"] is not None,
        # what the operator asked the customer to provide (shown on the case)
        "evidence_request": (
            {"requested_at": _iso(case["evidence_needed_at"]), "note": case["evidence_note"]}
            if case["evidence_needed_at"] is not None
            else None
        ),
        "closed_at": _iso(case["closed_at"]),
    }


def customer_case(
    case: asyncpg.Record,
    attachments: list[asyncpg.Record],
    replies: list[asyncpg.Record],
    *,
    with_details: bool,
) -> dict[str, Any]:
    base = f"/me/correspondence/{case['id']}"
    view = _common(case)
    view["replies"] = [
        {
            "id": str(r["id"]),
            "author": UTILITY_AUTHOR,
            "body": r["body"],
            "created_at": _iso(r["created_at"]),
        }
        for r in replies
    ]
    view["attachments"] = [attachment(a, base) for a in attachments]
    if with_details:
        view["details"] = case["details"]
        view["contact_phone"] = case["contact_phone"]
    return view


def operator_case(
    case: asyncpg.Record,
    attachments: list[asyncpg.Record],
    replies: list[asyncpg.Record] | None = None,
    history: list[asyncpg.Record] | None = None,
    *,
    today: dt.date,
) -> dict[str, Any]:
    base = f"/operator/cases/{case['id']}"
    view = _common(case)
    due = case["reply_due"] if Kind(case["kind"]) in WITH_DEADLINE else None
    view.update(
        days_left=days_left(due, Status(case["status"]), today),
        client_number=case["client_number"],
        account_linked=case["unlinked_at"] is None,
        assignee=case["assignee"],
        updated_at=_iso(case["updated_at"]),
        attachments=[attachment(a, base) for a in attachments],
    )
    if replies is not None:
        view["details"] = case["details"]
        view["contact_phone"] = case["contact_phone"]
        view["replies"] = [
            {
                "id": str(r["id"]),
                "author": r["author"],
                "body": r["body"],
                "created_at": _iso(r["created_at"]),
            }
            for r in replies
        ]
    if history is not None:
        view["history"] = [
            {
                "at": _iso(h["at"]),
                "actor_kind": h["actor_kind"],
                "actor": h["actor"],
                "action": h["action"],
                "details": h["details"],
            }
            for h in history
        ]
    return view
