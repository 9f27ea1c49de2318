"""Which debts a payment pays (art. 451 of the Civil Code): pure rules, no I/O.

A client's debts are its invoices (each with its corrections: one debt, owed as corrected,
due on the original's due date) and its interest notes (due on their ``payable_by`` day).
The rule, applied when a payment is posted and never revised afterwards:

1. **Indication (§ 1).** A payment that names an interest note pays that note. A payment
   that names an invoice (or one of its corrections) pays that invoice; but what goes to
   an invoice first covers that invoice's unpaid interest notes issued on or before the
   day of payment, oldest first (§ 1 second sentence: the creditor may credit it first to
   the overdue accessory claims of that debt, and this utility does), then its principal.
   A payment may name several debts (a transfer's title, an online payment order): each
   in turn as above, the invoices first, in the order named.
2. **No indication, or what the indicated debt did not take (§ 3).** It goes to the debts
   already due on the day of payment, the longest due first (an invoice's notes before its
   principal, as in 1.); then to debts not yet due, the soonest due first.
3. What no debt takes is an **overpayment** (nadpłata), held on the client's account.

Interest notes bear no interest themselves (art. 482 KC); allocation moves no interest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

ZERO = Decimal("0.00")


@dataclass
class InvoiceDebt:
    """An invoice with its corrections; ``number`` is the original (the settlement root)."""

    number: str
    client_number: str
    issue_date: date
    due_date: date
    total: Decimal
    paid: Decimal

    @property
    def outstanding(self) -> Decimal:
        return max(self.total - self.paid, ZERO)


@dataclass
class NoteDebt:
    number: str
    client_number: str
    invoice_number: str  # the settlement root it concerns
    issue_date: date
    payable_by: date
    total: Decimal
    paid: Decimal

    @property
    def outstanding(self) -> Decimal:
        return max(self.total - self.paid, ZERO)


@dataclass(frozen=True)
class Allocation:
    invoice_number: str  # the invoice paid, or the invoice the note concerns
    note_number: str | None  # None: the invoice's principal
    amount: Decimal


@dataclass
class Ledger:
    """The open debts of the clients a batch of payments concerns, updated as it goes."""

    invoices: dict[str, InvoiceDebt] = field(default_factory=dict)
    notes: dict[str, NoteDebt] = field(default_factory=dict)
    _by_client: dict[str, list[InvoiceDebt | NoteDebt]] = field(default_factory=dict)
    _notes_of: dict[str, list[NoteDebt]] = field(default_factory=dict)

    def add(self, debts: Iterable[InvoiceDebt | NoteDebt]) -> None:
        for debt in debts:
            self._by_client.setdefault(debt.client_number, []).append(debt)
            if isinstance(debt, InvoiceDebt):
                self.invoices[debt.number] = debt
            else:
                self.notes[debt.number] = debt
                self._notes_of.setdefault(debt.invoice_number, []).append(debt)
        for notes in self._notes_of.values():
            notes.sort(key=lambda n: (n.issue_date, n.number))

    def allocate(
        self,
        client_number: str,
        amount: Decimal,
        paid_on: date,
        *,
        invoice: str | None = None,
        note: str | None = None,
        invoices: Sequence[str] = (),
        notes: Sequence[str] = (),
    ) -> tuple[list[Allocation], Decimal]:
        """Allocate ``amount`` paid on ``paid_on``; ``invoice`` is the settlement root the
        payer named, ``note`` the note; ``invoices`` and ``notes`` several debts named at
        once (a transfer's title, an online order), paid in that order, invoices first.
        Returns the allocations and the overpayment."""
        out: list[Allocation] = []
        left = amount
        if note is not None:
            left = self._pay_note(self.notes[note], left, out)
        elif invoice is not None:
            left = self._pay_invoice(self.invoices[invoice], left, paid_on, out)
        for root in invoices:
            if left > 0:
                left = self._pay_invoice(self.invoices[root], left, paid_on, out)
        for number in notes:
            if left > 0:
                left = self._pay_note(self.notes[number], left, out)
        for debt in self._by_age(client_number, paid_on):
            if left <= 0:
                break
            if isinstance(debt, InvoiceDebt):
                left = self._pay_invoice(debt, left, paid_on, out)
            else:
                left = self._pay_note(debt, left, out)
        return _merged(out), left

    def _by_age(self, client_number: str, paid_on: date) -> list[InvoiceDebt | NoteDebt]:
        def due(debt: InvoiceDebt | NoteDebt) -> date:
            return debt.due_date if isinstance(debt, InvoiceDebt) else debt.payable_by

        debts = [d for d in self._by_client.get(client_number, ()) if d.outstanding > 0]
        return sorted(debts, key=lambda d: (due(d) > paid_on, due(d), d.number))

    def _pay_invoice(
        self, debt: InvoiceDebt, left: Decimal, paid_on: date, out: list[Allocation]
    ) -> Decimal:
        for n in self._notes_of.get(debt.number, ()):
            if left <= 0:
                return left
            if n.issue_date <= paid_on:
                left = self._pay_note(n, left, out)
        take = min(left, debt.outstanding)
        if take > 0:
            debt.paid += take
            out.append(Allocation(debt.number, None, take))
        return left - take

    @staticmethod
    def _pay_note(debt: NoteDebt, left: Decimal, out: list[Allocation]) -> Decimal:
        take = min(left, debt.outstanding)
        if take > 0:
            debt.paid += take
            out.append(Allocation(debt.invoice_number, debt.number, take))
        return left - take


def _merged(allocations: list[Allocation]) -> list[Allocation]:
    """One allocation per debt (an indicated debt met again under § 3 adds up)."""
    merged: dict[tuple[str, str | None], Decimal] = {}
    for a in allocations:
        key = (a.invoice_number, a.note_number)
        merged[key] = merged.get(key, ZERO) + a.amount
    return [Allocation(inv, note, amount) for (inv, note), amount in merged.items()]
