"""Events correspondence publishes (built here, validated against the catalogue) and consumes.

Every event of a case is keyed by the case (``aggregate_key``), so consumers see a case's
events in the order they happened. A case whose e-BOK account was deleted carries
``client_number: null``: nobody is to be e-mailed about it any more.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
from ebok_shared.bus import Event, Subscription

# A cycle by design: use cases build events with this module, and the consumed events below
# call use cases; each side reads the other's names only when a function runs.
from . import use_cases

CASE_SUBMITTED = "correspondence.case.submitted"
CASE_ASSIGNED = "correspondence.case.assigned"
CASE_ANSWERED = "correspondence.case.answered"
CASE_CLOSED = "correspondence.case.closed"
DATA_CHANGE_REQUESTED = "correspondence.data_change.requested"
REKLAMACJA_FILED = "correspondence.reklamacja.filed"
EVIDENCE_REQUESTED = "correspondence.case.evidence_requested"
ATTACHMENTS_ADDED = "correspondence.case.attachments_added"
PUBLISHED = (
    CASE_SUBMITTED,
    CASE_ASSIGNED,
    CASE_ANSWERED,
    CASE_CLOSED,
    EVIDENCE_REQUESTED,
    ATTACHMENTS_ADDED,
    DATA_CHANGE_REQUESTED,
    REKLAMACJA_FILED,
)

INVOICE_ISSUED = "billing.invoice.issued"
CONTRACT_CONCLUDED = "billing.contract.concluded"
ACCOUNT_DELETED = "auth.account.deleted"


def key(case_id: Any) -> str:
    return f"case:{case_id}"


def _case(case: Any) -> dict[str, Any]:
    """The fields every case event starts with, from a case row or mapping."""
    linked = case.get("unlinked_at") is None
    return {
        "case_id": str(case["id"]),
        "case_number": case["number"],
        "client_number": case["client_number"] if linked else None,
        "kind": case["kind"],
    }


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def attachment_refs(attachments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "attachment_id": str(a["id"]),
            "filename": a["filename"],
            "content_type": a["content_type"],
            "size": a["size"],
        }
        for a in attachments
    ]


def case_submitted(case: Any, attachments: int) -> dict[str, Any]:
    """For the customer's confirmation e-mail (the notifier) and the back office's register."""
    return {
        **_case(case),
        "urgent": case["urgent"],
        "submitted_at": case["submitted_at"].isoformat(),
        "reply_due": _date(case["reply_due"]),
        "attachments": attachments,
    }


def case_assigned(case: Any, operator_id: str, at: dt.datetime) -> dict[str, Any]:
    return {**_case(case), "operator_id": operator_id, "assigned_at": at.isoformat()}


def case_answered(case: Any, reply_id: Any, at: dt.datetime) -> dict[str, Any]:
    """An answer is waiting in e-BOK. Deliberately without the answer's content: the e-mail
    only tells the customer to log in."""
    return {**_case(case), "reply_id": str(reply_id), "answered_at": at.isoformat()}


def evidence_requested(case: Any, reply_due: dt.date | None, at: dt.datetime) -> dict[str, Any]:
    """The customer is to be told that the case needs evidence (the note stays in e-BOK)."""
    return {**_case(case), "requested_at": at.isoformat(), "reply_due": _date(reply_due)}


def attachments_added(
    case: Any, attachments: list[dict[str, Any]], at: dt.datetime
) -> dict[str, Any]:
    return {**_case(case), "added_at": at.isoformat(), "attachments": attachment_refs(attachments)}


def case_closed(case: Any, operator_id: str, at: dt.datetime) -> dict[str, Any]:
    return {**_case(case), "closed_by": operator_id, "closed_at": at.isoformat()}


def data_change_requested(case: Any, attachments: list[dict[str, Any]]) -> dict[str, Any]:
    """The new values of the contract party's data, for the back office to apply."""
    details = case["details"]
    return {
        "case_id": str(case["id"]),
        "case_number": case["number"],
        "client_number": case["client_number"],
        "requested_at": case["submitted_at"].isoformat(),
        "changes": details["changes"],
        "comment": details.get("comment"),
        "attachments": attachment_refs(attachments),
    }


def reklamacja_filed(case: Any, attachments: list[dict[str, Any]]) -> dict[str, Any]:
    details = case["details"]
    return {
        "case_id": str(case["id"]),
        "case_number": case["number"],
        "client_number": case["client_number"],
        "filed_at": case["submitted_at"].isoformat(),
        "invoice_number": details.get("invoice_number"),
        "meter_serial": details.get("meter_serial"),
        "reason": details["reason"],
        "reply_due": _date(case["reply_due"]),
        "attachments": attachment_refs(attachments),
    }


def new(event_type: str, case_id: Any, payload: dict[str, Any]) -> tuple[Event, str]:
    """An event ready for ``outbox.add_events``, keyed by its case."""
    return Event.new(event_type, payload), key(case_id)


# -- consumed -----------------------------------------------------------------------------------


async def invoice_issued(conn: asyncpg.Connection, event: Event) -> None:
    p = event.payload
    await use_cases.remember_invoice(conn, p["invoice_number"], p["client_number"])


async def contract_concluded(conn: asyncpg.Connection, event: Event) -> None:
    p = event.payload
    await use_cases.remember_meters(
        conn, p["meter_serials"], p["client_number"], p["contract_number"]
    )


async def account_deleted(conn: asyncpg.Connection, event: Event) -> None:
    await use_cases.unlink_account(conn, event.payload["client_number"])


# One line per consumed event.
SUBSCRIPTIONS: list[Subscription] = [
    Subscription(INVOICE_ISSUED, invoice_issued),
    Subscription(CONTRACT_CONCLUDED, contract_concluded),
    Subscription(ACCOUNT_DELETED, account_deleted),
]
