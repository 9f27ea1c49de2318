"""Interest notes: what a note charges and how it is written down. Pure: no I/O.

A note charges interest for a late payment (or, on demand, on an overdue invoice's unpaid
rest); a business client's first note on an invoice also charges the recovery compensation
(see `compensation`), once per invoice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ..common.money import amount, rate
from ..ledger.domain import InvoiceFacts, PaymentFacts, Settlement, settlements
from .compensation import Compensation, EurRate, compensation
from .domain import InterestCalculation
from .rates import InterestKind

# A note is payable within 14 days of its issue (then it counts as overdue in the balance
# and, for payments without an indication, as a debt due since that day).
NOTE_PAYMENT_DAYS = 14


def note_number_for(invoice_number: str, sequence: int) -> str:
    return f"NO/{invoice_number}/{sequence:02d}"


def settlements_by_root(
    invoices: Iterable[Mapping[str, Any]], payments: Iterable[Mapping[str, Any]]
) -> dict[str, tuple[Settlement, str]]:
    """Each settlement (an invoice with its corrections) by its root, with its client."""
    invoices = list(invoices)
    facts = [
        InvoiceFacts(r["invoice_number"], r["gross"], r["due_date"], r["corrects"])
        for r in invoices
    ]
    client_of = {r["invoice_number"]: r["client_number"] for r in invoices}
    pays = [
        PaymentFacts(r["invoice_number"], r["paid_on"], r["amount"], r["payment_id"])
        for r in payments
    ]
    return {s.invoice_number: (s, client_of[s.invoice_number]) for s in settlements(facts, pays)}


def compensation_due(
    s: Settlement, kind: InterestKind, charged: set[str], rates: Mapping[date, EurRate]
) -> Compensation | None:
    """The compensation this settlement's next note charges: only a business client's,
    only once (``charged`` holds the roots already charged). Raises `EurRateMissing`."""
    if kind is not InterestKind.COMMERCIAL or s.invoice_number in charged:
        return None
    return compensation(s.gross, s.due_date, rates)


def periods(calculation: InterestCalculation) -> list[dict[str, Any]]:
    """The working of the interest, as a note keeps it (and its event carries it)."""
    return [
        {
            "from": p.start.isoformat(),
            "to": p.end.isoformat(),
            "days": p.days,
            "annual_rate_percent": rate(p.annual_rate_percent),
            "amount": amount(p.amount_display),
        }
        for p in calculation.periods
    ]


def note_record(
    *,
    note_number: str,
    client_number: str,
    invoice_number: str,
    payment_id: str | None,
    reason: str,
    issue_date: date,
    kind: str,
    principal: Decimal,
    due_date: date,
    calculation: InterestCalculation,
    comp: Compensation | None = None,
) -> dict[str, Any]:
    """A note as it is stored (the repository's columns) and published."""
    return {
        "note_number": note_number,
        "client_number": client_number,
        "invoice_number": invoice_number,
        "payment_id": payment_id,
        "reason": reason,
        "issue_date": issue_date,
        "kind": kind,
        "principal": principal,
        "due_date": due_date,
        "interest_to": calculation.paid_on,
        "days_late": sum(p.days for p in calculation.periods),
        "periods": periods(calculation),
        "amount": calculation.total,
        "payable_by": issue_date + timedelta(days=NOTE_PAYMENT_DAYS),
        "compensation_for": invoice_number if comp else None,
        "compensation_eur": comp.eur if comp else None,
        "compensation_rate": comp.rate.eur_pln if comp else None,
        "compensation_rate_date": comp.rate.rate_date if comp else None,
        "compensation_rate_table": comp.rate.table_number if comp else None,
        "compensation_pln": comp.pln if comp else None,
        "total": calculation.total + (comp.pln if comp else Decimal("0.00")),
        "amount_paid": Decimal("0.00"),
    }


def compensation_working(note: Mapping[str, Any]) -> dict[str, Any] | None:
    """The recovery compensation charged on a note, with its working (None: not charged)."""
    if note["compensation_pln"] is None:
        return None
    return {
        "eur": amount(note["compensation_eur"]),
        "eur_pln_rate": f"{note['compensation_rate']:.4f}",
        "rate_date": note["compensation_rate_date"].isoformat(),
        "rate_table": note["compensation_rate_table"],
        "pln": amount(note["compensation_pln"]),
    }
