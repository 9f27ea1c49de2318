"""The ledger: posting payments (each allocated to debts, see `allocation`), and
what a customer reads of it — invoices, their details and the balance."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ebok_shared.bus import Event
from ebok_shared.refusals import not_found

from .. import events as ev
from ..common.connection import Conn, Record
from ..feed.domain import BatchRefused
from ..interest import repository as interest_repo
from ..interest.compensation import EurRate
from ..interest.rates import InterestKind, RateRow, RateTable, interest_kind
from ..interest.use_cases import late_payment_notes, load_default_rate_table
from ..payments import repository as payments_repo
from ..payments.domain import title_references
from . import repository as repo
from .allocation import Allocation, InvoiceDebt, Ledger, NoteDebt
from .domain import (
    Balance,
    InvoiceFacts,
    NoteFacts,
    PaymentData,
    PaymentFacts,
    compute_balance,
    invoice_status,
)

# -- posting payments ------------------------------------------------------------------------


async def _ledger(conn: Conn, payments: Sequence[PaymentData]) -> tuple[Ledger, dict[str, str]]:
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
    p: PaymentData, allocations: list[Allocation], ledger: Ledger, latest: dict[str, str]
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


@dataclass(frozen=True)
class _Match:
    """What a payment books and pays beyond its row's own indication: the online order it
    books, the debts its title or order names (settlement roots and notes, all open debts
    of its client), and whether its title named nothing to match."""

    order_id: uuid.UUID | None = None
    invoices: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    unmatched: bool = False


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if len(value) == 36 else None
    except ValueError:
        return None


async def _matches(
    conn: Conn, payments: Sequence[PaymentData], ledger: Ledger
) -> dict[str, _Match]:
    """Each payment matched by its id or its transfer's title (the QR code's title format,
    or any title naming the numbers): an online order of its client not booked yet (the
    order's id as the payment's id, or in the title), else its client's open invoices and
    notes the title names. A row that names a debt itself pays that debt (and still books
    the order its id names); a titled payment that names none of these is unmatched, its
    money allocated by § 3 as any payment without an indication."""
    titles = {p.payment_id: title_references(p.title) for p in payments}
    wanted = {o for t in titles.values() for o in t.order_ids}
    wanted.update(o for p in payments if (o := _uuid(p.payment_id)) is not None)
    orders = {r["order_id"]: r for r in await payments_repo.orders_to_book(conn, sorted(wanted))}
    roots = await repo.invoice_roots(conn, sorted({i for t in titles.values() for i in t.invoices}))
    taken: set[uuid.UUID] = {o for o, r in orders.items() if r["booked"]}
    out: dict[str, _Match] = {}
    for p in payments:
        refs = titles[p.payment_id]
        order = None
        for candidate in (_uuid(p.payment_id), *refs.order_ids):
            row = orders.get(candidate) if candidate is not None else None
            if row is not None and row["client_number"] == p.client_number:
                if candidate not in taken:
                    order = row
                break
        order_id = order["order_id"] if order is not None else None
        if order_id is not None:
            taken.add(order_id)
        if p.invoice_number or p.note_number:
            out[p.payment_id] = _Match(order_id)
            continue
        if order is not None:
            named_invoices: Sequence[str] = order["invoice_numbers"]
            named_notes: Sequence[str] = order["note_numbers"]
        else:
            named_invoices = [roots[i] for i in refs.invoices if i in roots]
            named_notes = refs.notes
        invoices = tuple(
            dict.fromkeys(
                i
                for i in named_invoices
                if i in ledger.invoices and ledger.invoices[i].client_number == p.client_number
            )
        )
        notes = tuple(
            n
            for n in named_notes
            if n in ledger.notes and ledger.notes[n].client_number == p.client_number
        )
        unmatched = bool(p.title) and order is None and not invoices and not notes
        out[p.payment_id] = _Match(order_id, invoices, notes, unmatched)
    return out


async def post_payments(
    conn: Conn,
    payments: Sequence[PaymentData],
    today: date,
    table: RateTable,
    line_of: dict[str, int],
) -> tuple[list[tuple[Event, str]], int]:
    """Post new payments (oldest first, then in batch order: ``line_of`` each payment's
    line); their events and how many interest notes were issued. Raises `BatchRefused`
    (naming the lines) when a payment cannot be posted."""
    ordered = sorted(payments, key=lambda p: (p.paid_on, line_of[p.payment_id]))
    ledger, roots = await _ledger(conn, ordered)
    matches = await _matches(conn, ordered, ledger)
    rows: list[repo.AllocationRow] = []
    overpaid: dict[str, Decimal] = {}
    posted: list[tuple[PaymentData, list[Allocation]]] = []
    late_roots: set[str] = set()
    for p in ordered:
        match = matches[p.payment_id]
        allocations, left = ledger.allocate(
            p.client_number,
            p.amount,
            p.paid_on,
            invoice=roots[p.invoice_number] if p.invoice_number else None,
            note=p.note_number,
            invoices=match.invoices,
            notes=match.notes,
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
                    line_of[p.payment_id],
                    "invoice_number",
                    "klient nie ma żadnej faktury, na poczet której "
                    "można zaliczyć wpłatę bez wskazania długu",
                )
            )
        else:
            named[p.payment_id] = number
    if refused:
        raise BatchRefused(refused)
    await repo.insert_payments(
        conn,
        ordered,
        overpaid,
        rows,
        orders={pid: m.order_id for pid, m in matches.items() if m.order_id is not None},
        title_unmatched={pid for pid, m in matches.items() if m.unmatched},
    )
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
            line_of,
        )
        out.extend(ev.event(ev.INTEREST_NOTE_ISSUED, ev.interest_note_issued(n)) for n in notes)
    return out, len(notes)


# -- what a customer reads -------------------------------------------------------------------


async def invoice_page(
    conn: Conn,
    client_number: str,
    today: date,
    *,
    date_from: date | None,
    date_to: date | None,
    status: str | None,
    hidden: list[str],
    limit: int,
    offset: int,
) -> tuple[int, list[Record]]:
    """A page of the client's invoices, without those operators hid (``hidden``), with what
    a list shows of each (``views.invoice_list_item``)."""
    return await repo.invoice_page(
        conn,
        client_number,
        today,
        date_from=date_from,
        date_to=date_to,
        status=status,
        hidden=hidden,
        limit=limit,
        offset=offset,
        columns=repo.LIST_COLUMNS,
    )


async def own_invoice(conn: Conn, client_number: str, invoice_number: str, today: date) -> Record:
    """A client's own invoice; another client's answers exactly like a missing one."""
    row = await repo.invoice(conn, invoice_number, today)
    if row is None or row["client_number"] != client_number:
        raise not_found("Nie znaleziono faktury.")
    return row


@dataclass(frozen=True)
class InvoiceDetail:
    invoice: Record
    payments: list[Record]
    corrections: list[str]
    notes: list[Record]


async def invoice_detail(
    conn: Conn, client_number: str, invoice_number: str, today: date
) -> InvoiceDetail:
    row = await own_invoice(conn, client_number, invoice_number, today)
    number = row["invoice_number"]
    return InvoiceDetail(
        row,
        await repo.payments_of_invoice(conn, number),
        await repo.corrections_of(conn, number),
        await interest_repo.notes_of_invoice(conn, number),
    )


async def invoice(conn: Conn, invoice_number: str, today: date) -> Record:
    """Any invoice, as another e-BOK service reads it."""
    row = await repo.invoice(conn, invoice_number, today)
    if row is None:
        raise not_found("Nie znaleziono faktury.")
    return row


@functools.lru_cache(maxsize=4)
def _rate_table(rows: tuple[tuple[date, Decimal], ...]) -> RateTable:
    """The rate table of these rows, built and checked once while they stay the same. The
    rows are still read with every balance (an operator's new rate counts at once); only
    the table made of them is kept, and it is the same value for every client."""
    return RateTable.from_rows(RateRow(day, percent) for day, percent in rows)


async def balance(conn: Conn, client_number: str, today: date) -> tuple[Balance, InterestKind]:
    """The client's balance and what is overdue, with interest to today (everything read in
    one statement: the balance is on every customer's first dashboard)."""
    facts = await repo.balance_facts(conn, client_number)
    if facts is None:
        raise not_found("Nie znaleziono klienta.")
    kind = interest_kind(facts.kind)
    table = _rate_table(tuple(facts.rates)) if facts.rates else load_default_rate_table()
    result = compute_balance(
        [InvoiceFacts(*r) for r in facts.invoices],
        [PaymentFacts(*r) for r in facts.principal],
        [
            NoteFacts(
                number,
                invoice,
                issued,
                payable_by,
                total,
                amount_paid,
                compensation_for,
                compensation_pln or Decimal("0.00"),
                interest_to if reason == "on-demand" else None,
            )
            for (
                number,
                invoice,
                issued,
                payable_by,
                total,
                amount_paid,
                compensation_for,
                compensation_pln,
                reason,
                interest_to,
            ) in facts.notes
        ],
        facts.paid,
        today=today,
        kind=kind,
        table=table,
        eur_rates={
            day: EurRate(day, eur_pln, table_number)
            for day, eur_pln, table_number in facts.eur_rates
        },
    )
    return result, kind
