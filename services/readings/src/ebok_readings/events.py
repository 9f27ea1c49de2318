"""Events readings publishes (built here from typed values, validated against the catalogue,
added to the outbox in the caller's transaction) and the events it consumes.

Every readings event is keyed by its client (``aggregate_key``), as billing's are, so a
consumer sees one client's meters and readings in the order they happened.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import asyncpg
from ebok_shared.bus import Event, Outbox, Subscription

from .clients import use_cases as clients
from .common.values import m3
from .garden.domain import RequestRecord
from .meters.domain import MeterRef
from .readings.domain import Reading

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

# One line per consumed event.
SUBSCRIPTIONS: list[Subscription] = [
    Subscription(CONTRACT_CONCLUDED, clients.contract_concluded),
    Subscription(CONTRACT_TERMINATED, clients.contract_terminated),
    Subscription(INVOICE_ISSUED, clients.invoice_issued),
    Subscription(ACCOUNT_DELETED, clients.account_deleted),
]


def _keyed(event_type: str, payload: dict[str, Any]) -> tuple[Event, str]:
    """An event with its ``aggregate_key`` (its client), as the outbox takes it."""
    return Event.new(event_type, payload), f"client:{payload['client_number']}"


async def _add(
    conn: asyncpg.Connection, outbox: Outbox, event_type: str, payload: dict[str, Any]
) -> None:
    await outbox.add_events(conn, [_keyed(event_type, payload)])


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _m3(value: Decimal | None) -> str | None:
    return m3(value) if value is not None else None


# -- readings -----------------------------------------------------------------------------------


def _reading(r: Reading, kind: str) -> dict[str, Any]:
    """The shape billing consumes."""
    return {
        "reading_id": str(r.id),
        "meter_serial": r.meter_serial,
        "contract_number": r.contract_number,
        "client_number": r.client_number,
        "value": m3(r.value),
        "read_on": r.read_on.isoformat(),
        "kind": kind,
    }


async def reading_accepted(conn: asyncpg.Connection, outbox: Outbox, r: Reading, kind: str) -> None:
    await _add(conn, outbox, READING_ACCEPTED, _reading(r, kind))


def _to_verify(r: Reading, kind: str) -> dict[str, Any]:
    return {
        **_reading(r, kind),
        "source": r.source,
        "daily_consumption": _m3(r.daily_m3),
        "baseline_daily": _m3(r.baseline_m3),
    }


async def reading_to_verify(
    conn: asyncpg.Connection, outbox: Outbox, r: Reading, kind: str
) -> None:
    await _add(conn, outbox, READING_TO_VERIFY, _to_verify(r, kind))


async def reading_rejected(
    conn: asyncpg.Connection, outbox: Outbox, r: Reading, kind: str, reason: str
) -> None:
    payload = {**_reading(r, kind), "source": r.source, "reason": reason}
    await _add(conn, outbox, READING_REJECTED, payload)


def _leak(r: Reading, daily: Decimal, baseline: Decimal) -> dict[str, Any]:
    return {
        "reading_id": str(r.id),
        "client_number": r.client_number,
        "contract_number": r.contract_number,
        "meter_serial": r.meter_serial,
        "read_on": r.read_on.isoformat(),
        "value": m3(r.value),
        "daily_consumption": m3(daily),
        "baseline_daily": m3(baseline),
    }


async def leak_suspected(
    conn: asyncpg.Connection, outbox: Outbox, r: Reading, daily: Decimal, baseline: Decimal
) -> None:
    await _add(conn, outbox, LEAK_SUSPECTED, _leak(r, daily, baseline))


def reading_recorded(
    r: Reading, kind: str, status: str, leak: tuple[Decimal, Decimal] | None
) -> list[tuple[Event, str]]:
    """The events of a reading just recorded, for the outbox to write with its row: accepted
    or waiting for an operator, and a suspected leak (``leak``: daily and baseline m³)."""
    found = [
        _keyed(READING_ACCEPTED, _reading(r, kind))
        if status == "accepted"
        else _keyed(READING_TO_VERIFY, _to_verify(r, kind))
    ]
    if leak is not None:
        found.append(_keyed(LEAK_SUSPECTED, _leak(r, *leak)))
    return found


# -- garden-meter requests ----------------------------------------------------------------------


async def request_submitted(conn: asyncpg.Connection, outbox: Outbox, q: RequestRecord) -> None:
    payload = {
        "request_id": str(q.id),
        "client_number": q.client_number,
        "contract_number": q.contract_number,
        "kind": q.kind,
        "done_on": q.done_on.isoformat(),
        "new_serial": q.new_serial,
        "old_serial": q.old_serial,
        "submitted_at": q.submitted_at.isoformat(),
    }
    await _add(conn, outbox, REQUEST_SUBMITTED, payload)


async def request_decided(conn: asyncpg.Connection, outbox: Outbox, q: RequestRecord) -> None:
    assert q.decided_at is not None
    payload = {
        "request_id": str(q.id),
        "client_number": q.client_number,
        "contract_number": q.contract_number,
        "kind": q.kind,
        "decision": q.status,
        "reason": q.reason,
        "decided_at": q.decided_at.isoformat(),
    }
    await _add(conn, outbox, REQUEST_DECIDED, payload)


# -- the meter registry -------------------------------------------------------------------------


async def meter_installed(
    conn: asyncpg.Connection,
    outbox: Outbox,
    m: MeterRef,
    installed_on: dt.date,
    initial_value: Decimal,
    legalisation_expires_on: dt.date | None,
) -> None:
    payload = {
        "meter_serial": m.serial,
        "kind": m.kind,
        "contract_number": m.contract_number,
        "client_number": m.client_number,
        "installed_on": installed_on.isoformat(),
        "initial_value": m3(initial_value),
        "seal_number": m.seal_number,
        "legalisation_expires_on": _day(legalisation_expires_on),
    }
    await _add(conn, outbox, METER_INSTALLED, payload)


async def meter_removed(
    conn: asyncpg.Connection, outbox: Outbox, m: MeterRef, removed_on: dt.date, final_value: Decimal
) -> None:
    payload = {
        "meter_serial": m.serial,
        "kind": m.kind,
        "contract_number": m.contract_number,
        "client_number": m.client_number,
        "removed_on": removed_on.isoformat(),
        "final_value": m3(final_value),
    }
    await _add(conn, outbox, METER_REMOVED, payload)


async def meter_replaced(
    conn: asyncpg.Connection,
    outbox: Outbox,
    old: MeterRef,
    *,
    new_serial: str,
    replaced_on: dt.date,
    final_value: Decimal,
    initial_value: Decimal,
    seal_number: str | None,
    legalisation_expires_on: dt.date | None,
) -> None:
    payload = {
        "old_serial": old.serial,
        "new_serial": new_serial,
        "kind": old.kind,
        "contract_number": old.contract_number,
        "client_number": old.client_number,
        "replaced_on": replaced_on.isoformat(),
        "final_value": m3(final_value),
        "initial_value": m3(initial_value),
        "seal_number": seal_number,
        "legalisation_expires_on": _day(legalisation_expires_on),
    }
    await _add(conn, outbox, METER_REPLACED, payload)


# -- garden-meter reminders ---------------------------------------------------------------------


async def reading_due(
    conn: asyncpg.Connection,
    outbox: Outbox,
    m: MeterRef,
    due_on: dt.date,
    last_read_on: dt.date | None,
) -> None:
    payload = {
        "client_number": m.client_number,
        "contract_number": m.contract_number,
        "meter_serial": m.serial,
        "due_on": due_on.isoformat(),
        "last_read_on": _day(last_read_on),
    }
    await _add(conn, outbox, READING_DUE, payload)


async def legalisation_expiring(
    conn: asyncpg.Connection, outbox: Outbox, m: MeterRef, expires_on: dt.date
) -> None:
    payload = {
        "client_number": m.client_number,
        "contract_number": m.contract_number,
        "meter_serial": m.serial,
        "seal_number": m.seal_number,
        "sealed_on": _day(m.sealed_on),
        "expires_on": expires_on.isoformat(),
    }
    await _add(conn, outbox, LEGALISATION_EXPIRING, payload)
