"""Events billing publishes (built here from typed values, validated against the catalogue)
and the one it consumes.

Every billing event is keyed by its client (``aggregate_key``), so a consumer sees a
client's events in the order they happened: the client before its contract, the invoice
before its payment, the payment before its interest note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ebok_shared.bus import Event, Outbox, Subscription

from .common.money import amount
from .interest.notes import compensation_working
from .ledger.allocation import Allocation

if TYPE_CHECKING:  # the caller's connection, only passed on to the outbox
    from .common.connection import Conn
    from .settings import BillingSettings

CLIENT_UPSERTED = "billing.client.upserted"
CONTRACT_CONCLUDED = "billing.contract.concluded"
CONTRACT_TERMINATED = "billing.contract.terminated"
INVOICE_ISSUED = "billing.invoice.issued"
PAYMENT_POSTED = "billing.payment.posted"
INTEREST_NOTE_ISSUED = "billing.interest_note.issued"
CONSENT_CHANGED = "billing.e_invoice.consent_changed"
CONFIRMATION_REQUESTED = "billing.e_invoice.confirmation_requested"
PAYMENT_ORDER_CHANGED = "billing.payment_order.status_changed"
READING_ACCEPTED = "readings.reading.accepted"  # consumed (see subscriptions below)
ACCOUNT_DELETED = "auth.account.deleted"  # consumed: erase what only the e-BOK account gave


def subscriptions(settings: BillingSettings) -> list[Subscription]:
    """What billing consumes, one line each: an erased e-BOK account (always); accepted
    readings, only when it runs its own billing."""
    # Imported here: the use cases publish through this module.
    from .billing_run import use_cases as billing_run
    from .e_invoice import use_cases as e_invoice

    erasure = [Subscription(ACCOUNT_DELETED, e_invoice.account_deleted)]
    if not settings.billing_run:
        return erasure
    run = billing_run.BillingRun(Outbox(), settings.payment_terms_days)
    return [*erasure, Subscription(READING_ACCEPTED, run.on_reading_accepted)]


def key(client_number: str) -> str:
    return f"client:{client_number}"


def event(event_type: str, payload: dict[str, Any]) -> tuple[Event, str]:
    """An event ready for ``outbox.add_events``, keyed by its client."""
    return Event.new(event_type, payload), key(payload["client_number"])


async def publish(conn: Conn, outbox: Outbox, batch: Sequence[tuple[Event, str | None]]) -> None:
    """Add events to the outbox in the caller's transaction (in chunks: ``Outbox.add_events``)."""
    await outbox.add_events(conn, batch)


def _address(street: str, postal_code: str, city: str) -> dict[str, str]:
    return {"street": street, "postal_code": postal_code, "city": city}


def client_upserted(
    client_number: str,
    name: str,
    kind: str,
    nip: str | None,
    email: str | None,
    street: str,
    postal_code: str,
    city: str,
) -> dict[str, Any]:
    return {
        "client_number": client_number,
        "name": name,
        "kind": kind,
        "nip": nip,
        "email": email,
        "address": _address(street, postal_code, city),
    }


def contract_concluded(
    contract_number: str,
    client_number: str,
    concluded_on: date,
    street: str,
    postal_code: str,
    city: str,
    tariff_group: str,
    meter_serials: list[str] | tuple[str, ...],
) -> dict[str, Any]:
    return {
        "contract_number": contract_number,
        "client_number": client_number,
        "concluded_on": concluded_on.isoformat(),
        "supply_address": _address(street, postal_code, city),
        "tariff_group": tariff_group,
        "meter_serials": list(meter_serials),
    }


def contract_terminated(
    contract_number: str, client_number: str, terminated_on: date, active_left: int
) -> dict[str, Any]:
    return {
        "contract_number": contract_number,
        "client_number": client_number,
        "terminated_on": terminated_on.isoformat(),
        "active_contracts_left": active_left,
    }


def invoice_issued(
    invoice_number: str,
    client_number: str,
    issue_date: date,
    due_date: date,
    net: Decimal,
    vat: Decimal,
    gross: Decimal,
    ksef_number: str | None,
    e_invoice_email: str | None,
) -> dict[str, Any]:
    return {
        "invoice_number": invoice_number,
        "client_number": client_number,
        "issue_date": issue_date.isoformat(),
        "due_date": due_date.isoformat(),
        "net": amount(net),
        "vat": amount(vat),
        "gross": amount(gross),
        "ksef_number": ksef_number,
        "delivery": "e-mail" if e_invoice_email else "paper",
        "e_invoice_email": e_invoice_email,
    }


def payment_posted(
    payment_id: str,
    client_number: str,
    invoice_number: str,
    paid_on: date,
    paid: Decimal,
    invoice_status: str,
    late: bool,
    *,
    note_number: str | None = None,
    allocations: list[Allocation] | None = None,
    overpaid: Decimal | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "payment_id": payment_id,
        "client_number": client_number,
        "invoice_number": invoice_number,
        "paid_on": paid_on.isoformat(),
        "amount": amount(paid),
        "invoice_status": invoice_status,
        "late": late,
    }
    if allocations is not None:
        payload["note_number"] = note_number
        payload["allocations"] = [
            {
                "invoice_number": a.invoice_number,
                "note_number": a.note_number,
                "amount": amount(a.amount),
            }
            for a in allocations
        ]
        payload["overpaid"] = amount(overpaid or Decimal(0))
    return payload


def interest_note_issued(note: Mapping[str, Any]) -> dict[str, Any]:
    """From a note as stored (``interest.notes.note_record``, or its database row)."""
    return {
        "note_number": note["note_number"],
        "client_number": note["client_number"],
        "invoice_number": note["invoice_number"],
        "payment_id": note["payment_id"],
        "reason": note["reason"],
        "issue_date": note["issue_date"].isoformat(),
        "kind": note["kind"],
        "principal": amount(note["principal"]),
        "due_date": note["due_date"].isoformat(),
        "interest_to": note["interest_to"].isoformat(),
        "days_late": note["days_late"],
        "periods": note["periods"],
        "amount": amount(note["amount"]),
        "payable_by": note["payable_by"].isoformat(),
        "recovery_compensation": compensation_working(note),
        "total": amount(note["total"]),
    }


def consent_changed(
    client_number: str, status: str, email: str | None, changed_at: datetime, source: str
) -> dict[str, Any]:
    return {
        "client_number": client_number,
        "status": status,
        "email": email,
        "changed_at": changed_at.isoformat(),
        "source": source,
    }


def confirmation_requested(
    client_number: str, email: str, token: str, purpose: str, expires_at: datetime
) -> dict[str, Any]:
    return {
        "client_number": client_number,
        "email": email,
        "token": token,
        "purpose": purpose,
        "expires_at": expires_at.isoformat(),
    }


def payment_order_changed(order: Any, status: str, changed_at: datetime) -> dict[str, Any]:
    """``order``: the order's row as it was before the change (status excepted)."""
    return {
        "order_id": str(order["order_id"]),
        "client_number": order["client_number"],
        "status": status,
        "amount": amount(order["amount"]),
        "invoice_numbers": list(order["invoice_numbers"]),
        "note_numbers": list(order["note_numbers"]),
        "changed_at": changed_at.isoformat(),
        "provider_order_id": order["provider_order_id"],
    }
