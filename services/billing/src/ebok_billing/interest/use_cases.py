"""Interest: notes for late payments and on demand, and the two rate tables operators keep
as data (NBP reference rates for interest, NBP average EUR rates for the compensation)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any

from ebok_shared.bus import Outbox
from ebok_shared.logs import get_logger
from ebok_shared.refusals import Refusal

from .. import events as ev
from ..common.connection import Conn, Record
from ..feed.domain import BatchRefused
from ..ledger import repository as ledger_repo
from . import repository as repo
from .compensation import EurRate, EurRateMissing, polish_holidays
from .domain import Invoice as InterestInvoice
from .domain import Payment, compute_interest, compute_invoice_interest
from .notes import compensation_due, note_number_for, note_record, settlements_by_root
from .rates import RateRow, RateTable, RateTableError, RateUnavailableError, interest_kind

log = get_logger(__name__)

_PACKAGED_RATES = "data/nbp_reference_rates.csv"


# -- the NBP reference rate table ---------------------------------------------------------


def load_default_rate_table() -> RateTable:
    """The rate table packaged with the service."""
    text = resources.files("ebok_billing").joinpath(_PACKAGED_RATES).read_text(encoding="utf-8")
    return RateTable.from_csv(text)


async def load_rate_table(conn: Conn) -> RateTable:
    rows = await repo.rate_rows(conn)
    if not rows:
        return load_default_rate_table()
    return RateTable.from_rows(
        RateRow(r["effective_from"], r["reference_rate_percent"]) for r in rows
    )


async def seed_rates(conn: Conn) -> int:
    """Add the packaged NBP rows later than the database's last row (all, when empty)."""
    rows = await repo.rate_rows(conn)
    last = rows[-1]["effective_from"] if rows else None
    new = [
        (r.effective_from, r.reference_rate_percent)
        for r in load_default_rate_table().rows
        if last is None or r.effective_from > last
    ]
    if new:
        await repo.add_rates(conn, new, "packaged")
    return len(new)


async def seed_rates_at_start(conn: Conn) -> int:
    """``seed_rates`` in its own transaction, one replica at a time."""
    async with conn.transaction():
        await repo.lock_reference_rates(conn)
        return await seed_rates(conn)


async def rate_rows(conn: Conn) -> list[Record]:
    return await repo.rate_rows(conn)


async def add_rate(conn: Conn, effective_from: date, rate: Decimal, added_by: str) -> None:
    async with conn.transaction():
        await repo.lock_reference_rates(conn)
        table = await load_rate_table(conn)
        try:
            table.with_row(RateRow(effective_from, rate))
        except RateTableError:
            raise Refusal(
                409,
                "rate-out-of-order",
                f"Nowa stopa musi obowiązywać od dnia późniejszego niż ostatnia w tabeli "
                f"({table.rows[-1].effective_from.isoformat()}).",
                field="effective_from",
            ) from None
        await repo.add_rates(conn, [(effective_from, rate)], added_by)


# -- NBP average EUR rates ------------------------------------------------------------------


async def load_eur_rates(conn: Conn) -> dict[date, EurRate]:
    return {
        r["rate_date"]: EurRate(r["rate_date"], r["eur_pln"], r["table_number"])
        for r in await repo.eur_rates(conn)
    }


async def eur_rate_rows(conn: Conn) -> list[Record]:
    return await repo.eur_rates(conn)


async def add_eur_rate(
    conn: Conn, rate_date: date, eur_pln: Decimal, table_number: str | None, added_by: str
) -> bool:
    """Add the NBP average EUR rate of one day; True when added, False when the table
    already holds exactly this rate. A day's rate, once there, is never changed."""
    if rate_date.weekday() >= 5 or rate_date in polish_holidays(rate_date.year):
        raise Refusal(
            422,
            "not-a-working-day",
            "NBP publikuje średnie kursy walut tylko w dni robocze; "
            f"{rate_date.isoformat()} nie jest dniem roboczym.",
            field="rate_date",
        )
    if table_number is not None and not table_number.endswith(f"/{rate_date.year}"):
        raise Refusal(
            422,
            "table-year-mismatch",
            f"Numer tabeli NBP musi kończyć się rokiem kursu ({rate_date.year}).",
            field="table_number",
        )
    async with conn.transaction():
        await repo.lock_eur_rates(conn)
        existing = await repo.eur_rate(conn, rate_date)
        if existing is not None:
            if existing["eur_pln"] == eur_pln and existing["table_number"] == table_number:
                return False
            raise Refusal(
                409,
                "eur-rate-exists",
                f"Kurs EUR z dnia {rate_date.isoformat()} jest już w tabeli "
                f"({existing['eur_pln']:.4f} zł) i nie może zostać zmieniony.",
                field="rate_date",
            )
        await repo.add_eur_rate(conn, rate_date, eur_pln, table_number, added_by)
    return True


# -- interest notes ---------------------------------------------------------------------------


async def note_page(
    conn: Conn, client_number: str, limit: int, offset: int
) -> tuple[int, list[Record]]:
    return await repo.note_page(conn, client_number, limit, offset)


async def late_payment_notes(
    conn: Conn,
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
                comp = compensation_due(s, kind, charged, rates)
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
    conn: Conn, outbox: Outbox, invoice_number: str, today: date
) -> tuple[dict[str, Any] | Record, bool]:
    """Interest on the unpaid rest of an overdue invoice up to today, as a note.

    Asking again the same day gives the same note; a later note charges only the days
    after the previous one. A business client's first note on the invoice also charges the
    recovery compensation; without the EUR rate it needs, nothing is issued (409).
    """
    async with conn.transaction():
        inv = await ledger_repo.lock_invoice(conn, invoice_number)
        if inv is None:
            raise Refusal(404, "not-found", "Nie znaleziono faktury.", field="invoice_number")
        root = inv["corrects"] or invoice_number
        existing = await repo.on_demand_note(conn, root, today)
        if existing is not None:
            return existing, False
        table = await load_rate_table(conn)
        invoices, payments, kinds = await repo.settlement_rows(conn, [root])
        s, client = settlements_by_root(invoices, payments)[root]
        if s.outstanding <= 0 or s.due_date >= today:
            raise Refusal(409, "not-overdue", "Faktura nie ma zaległości po terminie płatności.")
        kind = interest_kind(kinds[client])
        charged_to = await repo.on_demand_charged_to(conn, [root])
        start = max(s.due_date, charged_to.get(root, s.due_date))
        if start >= today:
            raise Refusal(409, "already-charged", "Odsetki do dzisiaj zostały już naliczone notą.")
        paid_until_start = [Payment(p.paid_on, p.amount) for p in s.payments]
        try:
            applied = compute_invoice_interest(
                InterestInvoice(s.gross, s.due_date), paid_until_start, today, table, kind
            )
            calc = compute_interest(applied.outstanding, start, today, table, kind)
        except RateUnavailableError:
            raise Refusal(
                409, "rate-unavailable", "Brak stopy referencyjnej NBP dla okresu zaległości."
            ) from None
        try:
            comp = compensation_due(
                s,
                kind,
                await repo.compensated(conn, [root]),
                await load_eur_rates(conn),
            )
        except EurRateMissing as exc:
            raise Refusal(409, "eur-rate-missing", exc.detail, field="rate_date") from None
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
        await outbox.add_events(
            conn, [ev.event(ev.INTEREST_NOTE_ISSUED, ev.interest_note_issued(note))]
        )
        return note, True
