"""Interest notes: for payments posted after the due date, and on demand for an unpaid
overdue invoice. A business client's first note on an invoice also charges the recovery
compensation (see `compensation`), once per invoice."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ebok_shared.bus import Outbox
from ebok_shared.logs import get_logger

from . import events as ev
from . import repository as repo
from .common import BatchRefused, OperationError, publish
from .compensation import Compensation, EurRate, EurRateMissing, compensation
from .domain import (
    InvoiceFacts,
    PaymentFacts,
    Settlement,
    interest_kind,
    note_number_for,
    settlements,
)
from .interest import InterestCalculation, Payment, compute_interest, compute_invoice_interest
from .interest import Invoice as InterestInvoice
from .rate_tables import load_eur_rates, load_rate_table
from .rates import InterestKind, RateTable, RateUnavailableError

log = get_logger(__name__)

# A note is payable within 14 days of its issue (then it counts as overdue in the balance
# and, for payments without an indication, as a debt due since that day).
NOTE_PAYMENT_DAYS = 14


def settlements_by_root(
    invoices: list[repo.Record], payments: list[repo.Record]
) -> dict[str, tuple[Settlement, str]]:
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
        "periods": ev.periods(calculation),
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


def _compensation(
    s: Settlement, kind: InterestKind, charged: set[str], rates: Mapping[date, EurRate]
) -> Compensation | None:
    """The compensation this settlement's next note charges: only a business client's,
    only once (``charged`` holds the roots already charged). Raises `EurRateMissing`."""
    if kind is not InterestKind.COMMERCIAL or s.invoice_number in charged:
        return None
    return compensation(s.gross, s.due_date, rates)


async def late_payment_notes(
    conn: repo.Conn,
    invoice_numbers: list[str],
    new_payment_ids: set[str],
    today: date,
    table: RateTable,
    line_of: Mapping[str, int],
) -> list[dict[str, Any]]:
    """Issue a note for each new payment that paid part of a settlement late.

    Days already charged by an on-demand note are not charged again: a later payment's
    interest runs from the day after the last on-demand note's end. A missing EUR rate for
    a compensation refuses the batch (`BatchRefused`, naming the payment's line).
    """
    invoices, payments, kinds = await repo.settlement_rows(conn, invoice_numbers)
    roots = [r["invoice_number"] for r in invoices]
    charged_to = await repo.on_demand_charged_to(conn, roots)
    counts = await repo.note_counts(conn, roots)
    charged = await repo.compensated(conn, roots)
    rates = await load_eur_rates(conn)
    notes: list[dict[str, Any]] = []
    missing: list[tuple[int, str, str]] = []
    for s, client in settlements_by_root(invoices, payments).values():
        if s.gross <= 0 or not any(p.payment_id in new_payment_ids for p in s.payments):
            continue
        kind = interest_kind(kinds[client])
        as_of = max([today, *(p.paid_on for p in s.payments)])
        try:
            applied = compute_invoice_interest(
                InterestInvoice(s.gross, s.due_date),
                [Payment(p.paid_on, p.amount) for p in s.payments],
                as_of,
                table,
                kind,
            )
        except RateUnavailableError as exc:
            log.warning("no rate for interest", invoice=s.invoice_number, error=str(exc))
            continue
        start = max(s.due_date, charged_to.get(s.invoice_number, s.due_date))
        for facts, share in zip(s.payments, applied.payments, strict=True):
            if facts.payment_id not in new_payment_ids or share.covered == 0:
                continue
            if facts.paid_on <= start:
                continue
            calc = (
                share.calculation
                if start == s.due_date
                else compute_interest(share.covered, start, facts.paid_on, table, kind)
            )
            if calc is None:
                continue
            try:
                comp = _compensation(s, kind, charged, rates)
            except EurRateMissing as exc:
                missing.append((line_of.get(facts.payment_id, 0), "paid_on", exc.detail))
                break
            if calc.total <= 0 and comp is None:
                continue
            if comp is not None:
                charged.add(s.invoice_number)
            counts[s.invoice_number] = counts.get(s.invoice_number, 0) + 1
            notes.append(
                note_record(
                    note_number=note_number_for(s.invoice_number, counts[s.invoice_number]),
                    client_number=client,
                    invoice_number=s.invoice_number,
                    payment_id=facts.payment_id,
                    reason="late-payment",
                    issue_date=today,
                    kind=str(kind),
                    principal=share.covered,
                    due_date=s.due_date,
                    calculation=calc,
                    comp=comp,
                )
            )
    if missing:
        raise BatchRefused(missing)
    if notes:
        await repo.insert_notes(conn, notes)
    return notes


async def issue_on_demand_note(
    conn: repo.Conn, outbox: Outbox, invoice_number: str, today: date
) -> tuple[dict[str, Any] | repo.Record, bool]:
    """Interest on the unpaid rest of an overdue invoice up to today, as a note.

    Asking again the same day gives the same note; a later note charges only the days
    after the previous one. A business client's first note on the invoice also charges the
    recovery compensation; without the EUR rate it needs, nothing is issued (409).
    """
    async with conn.transaction():
        inv = await repo.lock_invoice(conn, invoice_number)
        if inv is None:
            raise OperationError(404, "not-found", "Nie znaleziono faktury.", "invoice_number")
        root = inv["corrects"] or invoice_number
        existing = await repo.on_demand_note(conn, root, today)
        if existing is not None:
            return existing, False
        table = await load_rate_table(conn)
        invoices, payments, kinds = await repo.settlement_rows(conn, [root])
        s, client = settlements_by_root(invoices, payments)[root]
        if s.outstanding <= 0 or s.due_date >= today:
            raise OperationError(
                409, "not-overdue", "Faktura nie ma zaległości po terminie płatności."
            )
        kind = interest_kind(kinds[client])
        start = max(
            s.due_date, (await repo.on_demand_charged_to(conn, [root])).get(root, s.due_date)
        )
        if start >= today:
            raise OperationError(
                409, "already-charged", "Odsetki do dzisiaj zostały już naliczone notą."
            )
        paid_until_start = [Payment(p.paid_on, p.amount) for p in s.payments]
        try:
            applied = compute_invoice_interest(
                InterestInvoice(s.gross, s.due_date), paid_until_start, today, table, kind
            )
            calc = compute_interest(applied.outstanding, start, today, table, kind)
        except RateUnavailableError:
            raise OperationError(
                409, "rate-unavailable", "Brak stopy referencyjnej NBP dla okresu zaległości."
            ) from None
        try:
            comp = _compensation(
                s, kind, await repo.compensated(conn, [root]), await load_eur_rates(conn)
            )
        except EurRateMissing as exc:
            raise OperationError(409, "eur-rate-missing", exc.detail, "rate_date") from None
        count = (await repo.note_counts(conn, [root])).get(root, 0) + 1
        note = note_record(
            note_number=note_number_for(root, count),
            client_number=client,
            invoice_number=root,
            payment_id=None,
            reason="on-demand",
            issue_date=today,
            kind=str(kind),
            principal=applied.outstanding,
            due_date=s.due_date,
            calculation=calc,
            comp=comp,
        )
        await repo.insert_notes(conn, [note])
        await publish(
            conn, outbox, [ev.event(ev.INTEREST_NOTE_ISSUED, ev.interest_note_issued(note))]
        )
        return note, True
