"""The ledger: invoices, payments, their status, settlements (an invoice with its
corrections) and the client's balance. Pure functions and values, no I/O."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from functools import cached_property

from ..common.money import describe_balance, to_grosze
from ..interest.compensation import Compensation, EurRate, EurRateMissing, compensation
from ..interest.domain import Invoice as InterestInvoice
from ..interest.domain import InvoiceInterest, Payment, compute_interest, compute_invoice_interest
from ..interest.rates import InterestKind, RateTable, RateUnavailableError

ZERO = Decimal("0.00")

# -- bank account ---------------------------------------------------------------------


def client_bank_account(bank_prefix: str, client_number: str) -> str:
    """The client's own (virtual) account number, NRB with check digits, grouped by four.

    ``bank_prefix`` is the utility's 8-digit bank routing number followed by the first
    digits of its collection account, 18 digits in all; the client number completes it.
    """
    bban = bank_prefix + client_number
    if not re.fullmatch(r"\d{24}", bban):
        raise ValueError("bank prefix + client number must make 24 digits")
    # ISO 13616: move "PL00" to the end, letters as numbers (P=25, L=21), mod 97.
    check = 98 - int(bban + "252100") % 97
    nrb = f"{check:02d}{bban}"
    return " ".join([nrb[:2], *(nrb[i : i + 4] for i in range(2, 26, 4))])


# -- invoice status -------------------------------------------------------------------


class InvoiceStatus(enum.StrEnum):
    UNPAID = "unpaid"
    PARTLY_PAID = "partly_paid"
    PAID = "paid"
    OVERDUE = "overdue"
    CORRECTED = "corrected"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    InvoiceStatus.UNPAID: "nieopłacona",
    InvoiceStatus.PARTLY_PAID: "opłacona częściowo",
    InvoiceStatus.PAID: "opłacona",
    InvoiceStatus.OVERDUE: "po terminie płatności",
    InvoiceStatus.CORRECTED: "skorygowana",
}


def invoice_status(
    gross: Decimal, paid: Decimal, due_date: date, corrected: bool, today: date
) -> InvoiceStatus:
    """The same rule as ``repository.STATUS_SQL`` (the list filters by it in SQL)."""
    if corrected:
        return InvoiceStatus.CORRECTED
    if paid >= gross:
        return InvoiceStatus.PAID
    if due_date < today:
        return InvoiceStatus.OVERDUE
    if paid > 0:
        return InvoiceStatus.PARTLY_PAID
    return InvoiceStatus.UNPAID


# -- lines ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Lines:
    water_m3: Decimal
    water_price: Decimal
    sewage_m3: Decimal
    sewage_price: Decimal
    subscription_net: Decimal
    vat_rate: Decimal

    @cached_property
    def water_net(self) -> Decimal:
        return to_grosze(self.water_m3 * self.water_price)

    @cached_property
    def sewage_net(self) -> Decimal:
        return to_grosze(self.sewage_m3 * self.sewage_price)

    @cached_property
    def net(self) -> Decimal:
        return self.water_net + self.sewage_net + self.subscription_net

    @cached_property
    def vat(self) -> Decimal:
        return to_grosze(self.net * self.vat_rate / 100)

    @cached_property
    def gross(self) -> Decimal:
        return self.net + self.vat


@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceData:
    """An invoice as it is issued (by the back office's feed or billing's own run)."""

    invoice_number: str
    client_number: str
    contract_number: str
    issue_date: date
    due_date: date
    period_from: date
    period_to: date
    lines: Lines
    net: Decimal
    vat: Decimal
    gross: Decimal
    ksef_number: str | None = None
    ksef_hash: str | None = None
    corrects: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentData:
    """Money a client paid; it names the debt it pays (an invoice or a note) or none."""

    payment_id: str
    client_number: str
    invoice_number: str | None
    paid_on: date
    amount: Decimal
    note_number: str | None = None
    # The transfer's title as the bank gave it (the feed's optional column): what it names
    # is what the payment pays when the row indicates no debt itself.
    title: str | None = None


# -- balance and overdue interest -----------------------------------------------------


@dataclass(frozen=True)
class InvoiceFacts:
    """What the balance needs of one invoice."""

    invoice_number: str
    gross: Decimal
    due_date: date
    corrects: str | None


@dataclass(frozen=True)
class PaymentFacts:
    invoice_number: str
    paid_on: date
    amount: Decimal
    payment_id: str = ""


@dataclass(frozen=True)
class Settlement:
    """An invoice with its corrections: owed as corrected, from the original due date.

    ``paid`` and ``outstanding`` follow from the fields; computed once, when it is made (a
    balance asks them of every settlement several times)."""

    invoice_number: str
    due_date: date
    gross: Decimal
    payments: tuple[PaymentFacts, ...]
    paid: Decimal = field(init=False, repr=False, compare=False)
    outstanding: Decimal = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        paid = sum((p.amount for p in self.payments), ZERO)
        _derive(self, paid=paid, outstanding=max(self.gross - paid, ZERO))


def settlements(
    invoices: Iterable[InvoiceFacts],
    payments: Iterable[PaymentFacts],
    *,
    overdue_on: date | None = None,
) -> list[Settlement]:
    """Group corrections with the invoice they correct; payments go to the group.
    ``overdue_on``: only the settlements overdue that day (due before it, not paid in full),
    the others never made."""
    roots: dict[str, InvoiceFacts] = {}
    root_of: dict[str, str] = {}
    extra: dict[str, Decimal] = {}
    pending = []
    for inv in invoices:
        if inv.corrects is None:
            roots[inv.invoice_number] = inv
            root_of[inv.invoice_number] = inv.invoice_number
        else:
            pending.append(inv)
    for inv in pending:
        root = inv.corrects if inv.corrects in roots else inv.invoice_number
        if root == inv.invoice_number:  # its original is not in view: stands alone
            roots[root] = inv
        else:
            extra[root] = extra.get(root, ZERO) + inv.gross
        root_of[inv.invoice_number] = root
    paid: dict[str, list[PaymentFacts]] = {}
    for p in payments:
        paid.setdefault(root_of.get(p.invoice_number, p.invoice_number), []).append(p)
    made = []
    for number, inv in sorted(roots.items(), key=lambda kv: (kv[1].due_date, kv[0])):
        gross = inv.gross + extra.get(number, ZERO)
        its = paid.get(number, ())
        if overdue_on is not None and (
            inv.due_date >= overdue_on or sum((p.amount for p in its), ZERO) >= gross
        ):
            continue  # not overdue: due later, or paid in full (outstanding 0)
        made.append(Settlement(number, inv.due_date, gross, tuple(sorted(its, key=_paid_on))))
    return made


def _paid_on(p: PaymentFacts) -> date:
    return p.paid_on


@dataclass(frozen=True)
class NoteFacts:
    """What the balance needs of one interest note (``total``: interest + compensation)."""

    note_number: str
    invoice_number: str
    issue_date: date
    payable_by: date
    total: Decimal
    paid: Decimal
    compensation_for: str | None = None
    compensation: Decimal = ZERO  # the recovery compensation's PLN within ``total``
    on_demand_to: date | None = None  # an on-demand note: the last day it charged
    outstanding: Decimal = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _derive(self, outstanding=max(self.total - self.paid, ZERO))


@dataclass(frozen=True)
class CompensationState:
    """A business client's recovery compensation for one overdue invoice: charged on a
    note already, due with the next note (``due``), or not computable (``missing``)."""

    charged_on: str | None = None
    due: Compensation | None = None
    missing: str | None = None


@dataclass(frozen=True)
class OverdueInvoice:
    """An overdue settlement and the interest on its unpaid rest as of today (the day of
    payment counts, so this is also what paying today costs)."""

    settlement: Settlement
    interest: InvoiceInterest | None  # None when the rate table does not reach back
    compensation: CompensationState | None = None  # None: a household's invoice
    # The interest accrued to today (None: not computable), and principal, interest and a
    # compensation not yet charged (None: not computable); computed once, when it is made.
    accrued_to_today: Decimal | None = field(init=False, repr=False, compare=False)
    to_pay_today: Decimal | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        calc = self.interest.outstanding_interest if self.interest else None
        accrued = calc.total if calc is not None else None
        to_pay = None
        if accrued is not None and not (self.compensation and self.compensation.missing):
            due = self.compensation.due if self.compensation else None
            to_pay = self.settlement.outstanding + accrued + (due.pln if due else ZERO)
        _derive(self, accrued_to_today=accrued, to_pay_today=to_pay)


@dataclass(frozen=True)
class Balance:
    """A client's balance as of ``today``. Everything else follows from the fields: computed
    once, when it is made (an answer reads most of it several times).

    ``balance``: positive, the client owes; negative, an overpayment held for the client.
    ``accruing_interest``: interest accrued to today on overdue invoices that no note charges
    yet (None: a rate the table does not have). ``compensation_due``: recovery compensations
    due with the next note (None: an EUR rate is missing). ``to_pay_today``: what settles
    everything if paid today: the balance owed (an overpayment pays towards the rest), the
    interest accruing on overdue invoices and the compensations due; None when a part cannot
    be computed. ``overdue_amount``: invoices' principal past due and interest notes past
    their payment term."""

    invoices_total: Decimal
    notes: tuple[NoteFacts, ...]
    payments_total: Decimal
    overdue: tuple[OverdueInvoice, ...]
    today: date
    notes_total: Decimal = field(init=False, repr=False, compare=False)
    compensation_total: Decimal = field(init=False, repr=False, compare=False)
    notes_paid: Decimal = field(init=False, repr=False, compare=False)
    notes_outstanding: Decimal = field(init=False, repr=False, compare=False)
    overdue_notes: tuple[NoteFacts, ...] = field(init=False, repr=False, compare=False)
    balance: Decimal = field(init=False, repr=False, compare=False)
    accruing_interest: Decimal | None = field(init=False, repr=False, compare=False)
    compensation_due: Decimal | None = field(init=False, repr=False, compare=False)
    to_pay_today: Decimal | None = field(init=False, repr=False, compare=False)
    overdue_amount: Decimal = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        notes = self.notes
        notes_total = sum((n.total for n in notes), ZERO)
        overdue_notes = tuple(n for n in notes if n.outstanding > 0 and n.payable_by < self.today)
        balance = self.invoices_total + notes_total - self.payments_total
        accrued = [o.accrued_to_today for o in self.overdue]
        interest = (
            None
            if any(a is None for a in accrued)
            else sum((a for a in accrued if a is not None), ZERO)
        )
        states = [o.compensation for o in self.overdue if o.compensation is not None]
        compensation = (
            None
            if any(c.missing for c in states)
            else sum((c.due.pln for c in states if c.due is not None), ZERO)
        )
        to_pay = (
            None
            if interest is None or compensation is None
            else max(balance + interest + compensation, ZERO)
        )
        invoices_overdue = sum((o.settlement.outstanding for o in self.overdue), ZERO)
        _derive(
            self,
            notes_total=notes_total,
            compensation_total=sum((n.compensation for n in notes), ZERO),
            notes_paid=sum((min(n.paid, n.total) for n in notes), ZERO),
            notes_outstanding=sum((n.outstanding for n in notes), ZERO),
            overdue_notes=overdue_notes,
            balance=balance,
            accruing_interest=interest,
            compensation_due=compensation,
            to_pay_today=to_pay,
            overdue_amount=invoices_overdue + sum((n.outstanding for n in overdue_notes), ZERO),
        )

    @property
    def text(self) -> str:
        return describe_balance(self.balance)


def _derive(value: object, **derived: object) -> None:
    """Set a frozen value's derived fields, once, as it is made (its ``__post_init__``)."""
    value.__dict__.update(derived)


def compute_balance(
    invoices: Sequence[InvoiceFacts],
    principal: Sequence[PaymentFacts],
    notes: Sequence[NoteFacts],
    payments_total: Decimal,
    *,
    today: date,
    kind: InterestKind,
    table: RateTable,
    eur_rates: Mapping[date, EurRate],
) -> Balance:
    """``principal``: what payments paid of invoices (allocations, not whole payments);
    ``payments_total``: all money paid, overpayments included."""
    charged = {n.compensation_for: n.note_number for n in notes if n.compensation_for}
    charged_to: dict[str, date] = {}  # per invoice: the last day an on-demand note charged
    for n in notes:
        if n.on_demand_to is not None and n.on_demand_to > charged_to.get(
            n.invoice_number, date.min
        ):
            charged_to[n.invoice_number] = n.on_demand_to
    overdue = []
    for s in settlements(invoices, principal, overdue_on=today):
        comp = None
        if kind is InterestKind.COMMERCIAL:
            comp = _compensation_state(s, charged, eur_rates)
        overdue.append(_overdue(s, today, kind, table, comp, charged_to.get(s.invoice_number)))
    return Balance(
        invoices_total=sum((i.gross for i in invoices), ZERO),
        notes=tuple(notes),
        payments_total=payments_total,
        overdue=tuple(overdue),
        today=today,
    )


def _compensation_state(
    s: Settlement, charged: Mapping[str, str], eur_rates: Mapping[date, EurRate]
) -> CompensationState:
    if s.invoice_number in charged:
        return CompensationState(charged_on=charged[s.invoice_number])
    try:
        return CompensationState(due=compensation(s.gross, s.due_date, eur_rates))
    except EurRateMissing as exc:
        return CompensationState(missing=exc.detail)


def _overdue(
    s: Settlement,
    today: date,
    kind: InterestKind,
    table: RateTable,
    comp: CompensationState | None,
    charged_to: date | None = None,
) -> OverdueInvoice:
    """``charged_to``: the last day an on-demand note charged; the unpaid rest accrues from
    the day after it (as the next note will charge), never twice for the same days."""
    invoice = InterestInvoice(gross_amount=s.gross, due_date=s.due_date)
    pays = [Payment(p.paid_on, p.amount) for p in s.payments if p.paid_on <= today]
    try:
        calc = compute_invoice_interest(invoice, pays, today, table, kind)
        if charged_to is not None and calc.outstanding > 0:
            rest = compute_interest(
                calc.outstanding, max(s.due_date, charged_to), today, table, kind, settled=False
            )
            calc = replace(calc, outstanding_interest=rest)
    except RateUnavailableError:
        return OverdueInvoice(s, None, comp)
    return OverdueInvoice(s, calc, comp)


def invoice_number_for(client_number: str, issue_date: date, sequence: int) -> str:
    """client number + YYMM + 4-digit sequence of that client's month."""
    if not 1 <= sequence <= 9999:
        raise ValueError("invoice sequence out of range")
    return f"{client_number}{issue_date:%y%m}{sequence:04d}"
