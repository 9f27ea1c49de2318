"""Posting a feed batch's new payments: allocate each to debts (see `allocation`), store
the payments and their allocations, then issue the interest notes late payments call for.
Runs inside the batch's transaction; the caller publishes the events it returns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from ebok_shared.bus import Event

from . import events as ev
from . import repository as repo
from .allocation import Allocation, InvoiceDebt, Ledger, NoteDebt
from .common import BatchRefused
from .domain import invoice_status
from .feed import PaymentRow
from .notes import late_payment_notes
from .rates import RateTable


async def _ledger(conn: repo.Conn, payments: Sequence[PaymentRow]) -> tuple[Ledger, dict[str, str]]:
    named = sorted({p.invoice_number for p in payments if p.invoice_number})
    roots = await repo.invoice_roots(conn, named)
    invoices, notes = await repo.open_debts(
        conn,
        sorted({p.client_number for p in payments}),
        sorted(set(roots.values())),
        sorted({p.note_number for p in payments if p.note_number}),
    )
    ledger = Ledger()
    ledger.add(
        InvoiceDebt(
            r["invoice_number"],
            r["client_number"],
            r["issue_date"],
            r["due_date"],
            r["total"],
            r["paid"],
        )
        for r in invoices
    )
    ledger.add(
        NoteDebt(
            r["note_number"],
            r["client_number"],
            r["root"],
            r["issue_date"],
            r["payable_by"],
            r["total"],
            r["amount_paid"],
        )
        for r in notes
    )
    return ledger, roots


def _event_invoice(
    p: PaymentRow, allocations: list[Allocation], ledger: Ledger, latest: dict[str, str]
) -> str | None:
    """The invoice a ``payment.posted`` event names: the one indicated, the indicated
    note's, else the first one the payment paid, else the client's latest invoice."""
    if p.invoice_number:
        return p.invoice_number
    if p.note_number:
        return ledger.notes[p.note_number].invoice_number
    if allocations:
        return allocations[0].invoice_number
    return latest.get(p.client_number)


async def post_payments(
    conn: repo.Conn,
    payments: Sequence[PaymentRow],
    today: date,
    table: RateTable,
) -> tuple[list[tuple[Event, str]], int]:
    """Post new payments (oldest first, then in batch order); their events and how many
    interest notes were issued. Raises `BatchRefused` when a payment cannot be posted."""
    ordered = sorted(payments, key=lambda p: (p.paid_on, p.line))
    ledger, roots = await _ledger(conn, ordered)
    rows: list[repo.AllocationRow] = []
    overpaid: dict[str, Decimal] = {}
    posted: list[tuple[PaymentRow, list[Allocation]]] = []
    late_roots: set[str] = set()
    for p in ordered:
        allocations, left = ledger.allocate(
            p.client_number,
            p.amount,
            p.paid_on,
            invoice=roots[p.invoice_number] if p.invoice_number else None,
            note=p.note_number,
        )
        overpaid[p.payment_id] = left
        rows.extend(
            (p.payment_id, seq, a.invoice_number, a.note_number, a.amount)
            for seq, a in enumerate(allocations, start=1)
        )
        posted.append((p, allocations))
        for a in allocations:
            if a.note_number is None and p.paid_on > ledger.invoices[a.invoice_number].due_date:
                late_roots.add(a.invoice_number)
    unnamed = sorted({p.client_number for p, a in posted if not a and not p.invoice_number})
    latest = await repo.latest_invoices(conn, unnamed) if unnamed else {}
    named: dict[str, str] = {}
    refused: list[tuple[int, str, str]] = []
    for p, allocations in posted:
        number = _event_invoice(p, allocations, ledger, latest)
        if number is None:
            refused.append(
                (
                    p.line,
                    "invoice_number",
                    "klient nie ma żadnej faktury, na poczet której "
                    "można zaliczyć wpłatę bez wskazania długu",
                )
            )
        else:
            named[p.payment_id] = number
    if refused:
        raise BatchRefused(refused)
    await repo.insert_payments(conn, ordered, overpaid, rows)
    states = await repo.invoice_states(conn, sorted(set(named.values())))
    out: list[tuple[Event, str]] = []
    for p, allocations in posted:
        inv = states[named[p.payment_id]]
        status = invoice_status(
            inv["gross"], inv["amount_paid"], inv["due_date"], inv["corrected"], today
        )
        late = any(
            a.note_number is None and p.paid_on > ledger.invoices[a.invoice_number].due_date
            for a in allocations
        )
        out.append(
            ev.event(
                ev.PAYMENT_POSTED,
                ev.payment_posted(
                    p.payment_id,
                    p.client_number,
                    named[p.payment_id],
                    p.paid_on,
                    p.amount,
                    str(status),
                    late,
                    note_number=p.note_number,
                    allocations=allocations,
                    overpaid=overpaid[p.payment_id],
                ),
            )
        )
    notes: list[dict[str, object]] = []
    if late_roots:
        notes = await late_payment_notes(
            conn,
            sorted(late_roots),
            {p.payment_id for p in ordered},
            today,
            table,
            {p.payment_id: p.line for p in ordered},
        )
        out.extend(ev.event(ev.INTEREST_NOTE_ISSUED, ev.interest_note_issued(n)) for n in notes)
    return out, len(notes)
