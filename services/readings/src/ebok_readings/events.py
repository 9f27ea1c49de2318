"""Events readings publishes (built here, validated against the catalogue) and consumes.

Every readings event is keyed by its client (``aggregate_key``), as billing's are, so a
consumer sees one client's meters and readings in the order they happened.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
from ebok_shared.bus import Event, Outbox, Subscription
from ebok_shared.clock import clock
from ebok_shared.logs import get_logger

from . import repository as repo
from .domain import m3

log = get_logger(__name__)

READING_ACCEPTED = "readings.reading.accepted"
READING_TO_VERIFY = "readings.reading.to_verify"
READING_REJECTED = "readings.reading.rejected"
REQUEST_SUBMITTED = "readings.garden_request.submitted"
REQUEST_DECIDED = "readings.garden_request.decided"
METER_INSTALLED = "readings.meter.installed"
METER_REPLACED = "readings.meter.replaced"
METER_REMOVED = "readings.meter.removed"
READING_DUE = "readings.garden_meter.reading_due"
LEGALISATION_EXPIRING = "readings.garden_meter.legalisation_expiring"
LEAK_SUSPECTED = "readings.leak.suspected"

PUBLISHED = (
    READING_ACCEPTED,
    READING_TO_VERIFY,
    READING_REJECTED,
    REQUEST_SUBMITTED,
    REQUEST_DECIDED,
    METER_INSTALLED,
    METER_REPLACED,
    METER_REMOVED,
    READING_DUE,
    LEGALISATION_EXPIRING,
    LEAK_SUSPECTED,
)

CONTRACT_CONCLUDED = "billing.contract.concluded"
CONTRACT_TERMINATED = "billing.contract.terminated"
INVOICE_ISSUED = "billing.invoice.issued"
ACCOUNT_DELETED = "auth.account.deleted"


def key(client_number: str) -> str:
    return f"client:{client_number}"


async def publish(
    conn: asyncpg.Connection, outbox: Outbox, event_type: str, payload: dict[str, Any]
) -> Event:
    """Into the outbox, in the caller's business transaction."""
    return await outbox.add(conn, event_type, payload, aggregate_key=key(payload["client_number"]))


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _m3(value: Decimal | None) -> str | None:
    return m3(value) if value is not None else None


# -- builders ---------------------------------------------------------------------------------


def reading_accepted(r: Any, kind: str) -> dict[str, Any]:
    """From a reading row; the shape billing consumes."""
    return {
        "reading_id": str(r["id"]),
        "meter_serial": r["meter_serial"],
        "contract_number": r["contract_number"],
        "client_number": r["client_number"],
        "value": m3(r["value"]),
        "read_on": r["read_on"].isoformat(),
        "kind": kind,
    }


def reading_to_verify(r: Any, kind: str) -> dict[str, Any]:
    return {
        **reading_accepted(r, kind),
        "source": r["source"],
        "daily_consumption": _m3(r["daily_m3"]),
        "baseline_daily": _m3(r["baseline_m3"]),
    }


def reading_rejected(r: Any, kind: str, reason: str) -> dict[str, Any]:
    return {**reading_accepted(r, kind), "source": r["source"], "reason": reason}


def request_submitted(q: Any) -> dict[str, Any]:
    return {
        "request_id": str(q["id"]),
        "client_number": q["client_number"],
        "contract_number": q["contract_number"],
        "kind": q["kind"],
        "done_on": q["done_on"].isoformat(),
        "new_serial": q["new_serial"],
        "old_serial": q["old_serial"],
        "submitted_at": q["submitted_at"].isoformat(),
    }


def request_decided(q: Any) -> dict[str, Any]:
    return {
        "request_id": str(q["id"]),
        "client_number": q["client_number"],
        "contract_number": q["contract_number"],
        "kind": q["kind"],
        "decision": q["status"],
        "reason": q["reason"],
        "decided_at": q["decided_at"].isoformat(),
    }


def meter_installed(
    serial: str,
    kind: str,
    contract_number: str,
    client_number: str,
    installed_on: dt.date,
    initial_value: Decimal,
    seal_number: str | None,
    legalisation_expires_on: dt.date | None,
) -> dict[str, Any]:
    return {
        "meter_serial": serial,
        "kind": kind,
        "contract_number": contract_number,
        "client_number": client_number,
        "installed_on": installed_on.isoformat(),
        "initial_value": m3(initial_value),
        "seal_number": seal_number,
        "legalisation_expires_on": _day(legalisation_expires_on),
    }


def meter_removed(
    serial: str,
    kind: str,
    contract_number: str,
    client_number: str,
    removed_on: dt.date,
    final_value: Decimal,
) -> dict[str, Any]:
    return {
        "meter_serial": serial,
        "kind": kind,
        "contract_number": contract_number,
        "client_number": client_number,
        "removed_on": removed_on.isoformat(),
        "final_value": m3(final_value),
    }


def meter_replaced(
    old_serial: str,
    new_serial: str,
    kind: str,
    contract_number: str,
    client_number: str,
    replaced_on: dt.date,
    final_value: Decimal,
    initial_value: Decimal,
    seal_number: str | None,
    legalisation_expires_on: dt.date | None,
) -> dict[str, Any]:
    return {
        "old_serial": old_serial,
        "new_serial": new_serial,
        "kind": kind,
        "contract_number": contract_number,
        "client_number": client_number,
        "replaced_on": replaced_on.isoformat(),
        "final_value": m3(final_value),
        "initial_value": m3(initial_value),
        "seal_number": seal_number,
        "legalisation_expires_on": _day(legalisation_expires_on),
    }


def reading_due(meter: Any, due_on: dt.date, last_read_on: dt.date | None) -> dict[str, Any]:
    return {
        "client_number": meter["client_number"],
        "contract_number": meter["contract_number"],
        "meter_serial": meter["serial"],
        "due_on": due_on.isoformat(),
        "last_read_on": _day(last_read_on),
    }


def legalisation_expiring(meter: Any, expires_on: dt.date) -> dict[str, Any]:
    return {
        "client_number": meter["client_number"],
        "contract_number": meter["contract_number"],
        "meter_serial": meter["serial"],
        "seal_number": meter["seal_number"],
        "sealed_on": _day(meter["sealed_on"]),
        "expires_on": expires_on.isoformat(),
    }


def leak_suspected(r: Any, daily: Decimal, baseline: Decimal) -> dict[str, Any]:
    return {
        "reading_id": str(r["id"]),
        "client_number": r["client_number"],
        "contract_number": r["contract_number"],
        "meter_serial": r["meter_serial"],
        "read_on": r["read_on"].isoformat(),
        "value": m3(r["value"]),
        "daily_consumption": m3(daily),
        "baseline_daily": m3(baseline),
    }


# -- consumed -----------------------------------------------------------------------------------


async def contract_concluded(conn: asyncpg.Connection, event: Event) -> None:
    """A contract and the meters serving it (re-stated contracts update them)."""
    p = event.payload
    concluded_on = dt.date.fromisoformat(p["concluded_on"])
    await repo.upsert_contract(conn, p["contract_number"], p["client_number"], concluded_on)
    for serial in p["meter_serials"]:
        await repo.attach_main_meter(conn, serial, p["contract_number"], concluded_on)


async def contract_terminated(conn: asyncpg.Connection, event: Event) -> None:
    p = event.payload
    await repo.terminate_contract(
        conn, p["contract_number"], p["client_number"], dt.date.fromisoformat(p["terminated_on"])
    )


async def invoice_issued(conn: asyncpg.Connection, event: Event) -> None:
    """Readings an invoice could have billed are final: a customer can no longer replace
    them by a second reading of the same day."""
    p = event.payload
    await repo.mark_billed(
        conn, p["client_number"], dt.date.fromisoformat(p["issue_date"]), event.occurred_at
    )


async def account_deleted(conn: asyncpg.Connection, event: Event) -> None:
    """Unlink the person's data; readings stay (they are the utility's records)."""
    await repo.unlink_client(conn, event.payload["client_number"], clock.now())


# One line per consumed event.
SUBSCRIPTIONS: list[Subscription] = [
    Subscription(CONTRACT_CONCLUDED, contract_concluded),
    Subscription(CONTRACT_TERMINATED, contract_terminated),
    Subscription(INVOICE_ISSUED, invoice_issued),
    Subscription(ACCOUNT_DELETED, account_deleted),
]


def new_id() -> uuid.UUID:
    return uuid.uuid4()
