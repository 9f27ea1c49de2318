"""Billing's use cases: each changes state and records its events in one transaction.

Callers (HTTP handlers, the CLI, the demo loader, the readings consumer) pass a connection
and the outbox; the domain decides, the repository writes.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ebok_shared.bus import Event, Outbox
from ebok_shared.logs import correlation_id_var, get_logger

from . import events as ev
from . import feed
from . import repository as repo
from .domain import (
    InvoiceFacts,
    PaymentFacts,
    Settlement,
    interest_kind,
    invoice_status,
    note_number_for,
    settlements,
)
from .interest import Invoice as InterestInvoice
from .interest import Payment, compute_interest, compute_invoice_interest
from .rates import RateRow, RateTable, RateTableError, RateUnavailableError
from .rates import load_default_rate_table as packaged_rates

log = get_logger(__name__)

EVENT_CHUNK = 5000


class OperationError(Exception):
    """A request the current state does not allow; ``code`` and Polish ``detail``."""

    def __init__(self, status: int, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.field = status, code, detail, field


async def _publish(conn: repo.Conn, outbox: Outbox, batch: list[tuple[Event, str | None]]) -> None:
    for start in range(0, len(batch), EVENT_CHUNK):
        await outbox.add_events(conn, batch[start : start + EVENT_CHUNK])  # type: ignore[arg-type]


# -- the back-office feed --------------------------------------------------------------


@dataclass
class BatchResult:
    batch_id: uuid.UUID
    status: str  # applied | rejected
    replayed: bool
    row_count: int
    summary: dict[str, Any]
    error_count: int
    errors: list[dict[str, Any]]
    received_at: datetime | None = None

    @classmethod
    def from_record(cls, r: repo.Record, *, replayed: bool) -> BatchResult:
        return cls(
            r["batch_id"],
            r["status"],
            replayed,
            r["row_count"],
            r["summary"],
            r["error_count"],
            r["errors"],
            r["received_at"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch_id": str(self.batch_id),
            "status": self.status,
            "replayed": self.replayed,
            "row_count": self.row_count,
            "summary": self.summary,
            "error_count": self.error_count,
            "errors": self.errors,
            "received_at": self.received_at.isoformat() if self.received_at else None,
        }


def _counts() -> dict[str, int]:
    return {"created": 0, "updated": 0, "unchanged": 0}


@dataclass
class _Summary:
    clients: dict[str, int] = field(default_factory=_counts)
    contracts: dict[str, int] = field(default_factory=_counts)
    invoices: dict[str, int] = field(default_factory=_counts)
    payments: dict[str, int] = field(default_factory=_counts)
    interest_notes: int = 0
    events: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "contracts": self.contracts,
            "invoices": self.invoices,
            "payments": self.payments,
            "interest_notes": self.interest_notes,
            "events": self.events,
        }


async def apply_batch(
    conn: repo.Conn,
    outbox: Outbox,
    raw: bytes,
    fmt: str,
    *,
    submitted_by: str,
    today: date,
    max_rows: int,
) -> BatchResult:
    """Check a whole batch and apply it in one transaction, or apply nothing.

    The same bytes sent again answer with the first result and change nothing; a row that
    the database already holds unchanged is counted as unchanged and raises no event.
    """
    checksum = hashlib.sha256(raw).hexdigest()
    token = None
    if correlation_id_var.get() is None:  # CLI and demo: the batch's events share one id
        token = correlation_id_var.set(f"feed-{checksum[:16]}")
    try:
        return await _apply_batch(conn, outbox, raw, fmt, checksum, submitted_by, today, max_rows)
    finally:
        if token is not None:
            correlation_id_var.reset(token)


async def _apply_batch(
    conn: repo.Conn,
    outbox: Outbox,
    raw: bytes,
    fmt: str,
    checksum: str,
    submitted_by: str,
    today: date,
    max_rows: int,
) -> BatchResult:
    parsed = await asyncio.to_thread(feed.parse, raw, fmt, max_rows=max_rows, today=today)
    async with conn.transaction():
        await repo.lock_feed(conn)
        prior = await repo.applied_batch(conn, checksum)
        if prior is not None:
            return BatchResult.from_record(prior, replayed=True)
        known = feed.Known()
        if not parsed.error_count:
            known = await repo.known_state(conn, feed.referenced_keys(parsed))
            await asyncio.to_thread(feed.check_references, parsed, known)
        summary = _Summary()
        status = "rejected"
        if not parsed.error_count:
            table = await load_rate_table(conn)
            await _apply(conn, outbox, parsed, known, summary, today, table)
            status = "applied"
        row = await repo.record_batch(
            conn,
            batch_id=uuid.uuid4(),
            checksum=checksum,
            fmt=fmt,
            status=status,
            row_count=parsed.row_count,
            submitted_by=submitted_by,
            summary=summary.to_dict(),
            error_count=parsed.error_count,
            errors=[e.to_dict() for e in sorted(parsed.errors, key=lambda e: e.line)],
        )
    log.info(
        "feed batch",
        batch_id=str(row["batch_id"]),
        status=status,
        rows=parsed.row_count,
        errors=parsed.error_count,
    )
    return BatchResult.from_record(row, replayed=False)


async def _apply(
    conn: repo.Conn,
    outbox: Outbox,
    batch: feed.ParsedBatch,
    known: feed.Known,
    summary: _Summary,
    today: date,
    table: RateTable,
) -> None:
    out: list[tuple[Event, str | None]] = []

    # clients
    new_clients = [c for c in batch.clients if c.client_number not in known.clients]
    changed_clients = [
        c
        for c in batch.clients
        if c.client_number in known.clients and known.clients[c.client_number] != c.content()
    ]
    await repo.insert_clients(conn, new_clients)
    await repo.update_clients(conn, changed_clients)
    summary.clients.update(
        created=len(new_clients),
        updated=len(changed_clients),
        unchanged=len(batch.clients) - len(new_clients) - len(changed_clients),
    )
    for c in batch.clients:
        if c.client_number in known.clients and known.clients[c.client_number] == c.content():
            continue
        a = c.address
        out.append(
            ev.event(
                ev.CLIENT_UPSERTED,
                ev.client_upserted(
                    c.client_number, c.name, c.kind, c.nip, c.email, a.street, a.postal_code, a.city
                ),
            )
        )

    # contracts
    new_contracts, changed_contracts = [], []
    concluded, terminated = [], []
    for k in batch.contracts:
        old_terms = known.contracts.get(k.contract_number)
        if old_terms is None:
            new_contracts.append(k)
            concluded.append(k)
            if k.terminated_on is not None:
                terminated.append(k)
            continue
        old_end = known.contract_terminated.get(k.contract_number)
        if old_terms == k.terms() and old_end == k.terminated_on:
            continue
        changed_contracts.append(k)
        if old_terms != k.terms() or k.terminated_on is None:
            concluded.append(k)
        if k.terminated_on is not None and k.terminated_on != old_end:
            terminated.append(k)
    await repo.insert_contracts(conn, new_contracts)
    await repo.update_contracts(conn, changed_contracts)
    summary.contracts.update(
        created=len(new_contracts),
        updated=len(changed_contracts),
        unchanged=len(batch.contracts) - len(new_contracts) - len(changed_contracts),
    )
    for k in concluded:
        a = k.address
        out.append(
            ev.event(
                ev.CONTRACT_CONCLUDED,
                ev.contract_concluded(
                    k.contract_number,
                    k.client_number,
                    k.concluded_on,
                    a.street,
                    a.postal_code,
                    a.city,
                    k.tariff_group,
                    k.meter_serials,
                ),
            )
        )
    if terminated:
        active = await repo.active_contracts(conn, sorted({k.client_number for k in terminated}))
        for k in terminated:
            assert k.terminated_on is not None
            out.append(
                ev.event(
                    ev.CONTRACT_TERMINATED,
                    ev.contract_terminated(
                        k.contract_number, k.client_number, k.terminated_on, active[k.client_number]
                    ),
                )
            )

    # invoices
    new_invoices = [i for i in batch.invoices if i.invoice_number not in known.invoices]
    summary.invoices.update(
        created=len(new_invoices), unchanged=len(batch.invoices) - len(new_invoices)
    )
    if new_invoices:
        e_mail = await repo.e_invoice_addresses(
            conn, sorted({i.client_number for i in new_invoices})
        )
        # originals before their corrections (the foreign key), otherwise in batch order
        new_invoices.sort(key=lambda i: i.corrects is not None)
        await repo.insert_invoices(conn, new_invoices, e_mail, "feed")
        corrected = sorted({i.corrects for i in new_invoices if i.corrects})
        if corrected:
            await repo.mark_corrected(conn, corrected)
        for i in sorted(new_invoices, key=lambda i: i.line):
            out.append(
                ev.event(
                    ev.INVOICE_ISSUED,
                    ev.invoice_issued(
                        i.invoice_number,
                        i.client_number,
                        i.issue_date,
                        i.due_date,
                        i.net,
                        i.vat,
                        i.gross,
                        i.ksef_number,
                        e_mail.get(i.client_number),
                    ),
                )
            )

    # payments, then interest on the late ones
    new_payments = [p for p in batch.payments if p.payment_id not in known.payments]
    summary.payments.update(
        created=len(new_payments), unchanged=len(batch.payments) - len(new_payments)
    )
    if new_payments:
        after = {r["invoice_number"]: r for r in await repo.insert_payments(conn, new_payments)}
        late_invoices = set()
        for p in new_payments:
            inv = after[p.invoice_number]
            late = p.paid_on > inv["due_date"]
            if late:
                late_invoices.add(p.invoice_number)
            status = invoice_status(
                inv["gross"], inv["amount_paid"], inv["due_date"], inv["corrected"], today
            )
            out.append(
                ev.event(
                    ev.PAYMENT_POSTED,
                    ev.payment_posted(
                        p.payment_id,
                        p.client_number,
                        p.invoice_number,
                        p.paid_on,
                        p.amount,
                        str(status),
                        late,
                    ),
                )
            )
        if late_invoices:
            notes = await late_payment_notes(
                conn, sorted(late_invoices), {p.payment_id for p in new_payments}, today, table
            )
            summary.interest_notes = len(notes)
            for note in notes:
                out.append(ev.event(ev.INTEREST_NOTE_ISSUED, ev.interest_note_issued(note)))
    summary.events = len(out)
    await _publish(conn, outbox, out)


# -- interest notes -------------------------------------------------------------------


async def load_rate_table(conn: repo.Conn) -> RateTable:
    rows = await repo.rate_rows(conn)
    if not rows:
        return packaged_rates()
    return RateTable.from_rows(
        RateRow(r["effective_from"], r["reference_rate_percent"]) for r in rows
    )


async def seed_rates(conn: repo.Conn) -> int:
    """Add the packaged NBP rows later than the database's last row (all, when empty)."""
    rows = await repo.rate_rows(conn)
    last = rows[-1]["effective_from"] if rows else None
    new = [
        (r.effective_from, r.reference_rate_percent)
        for r in packaged_rates().rows
        if last is None or r.effective_from > last
    ]
    if new:
        await repo.add_rates(conn, new, "packaged")
    return len(new)


async def add_rate(conn: repo.Conn, effective_from: date, rate: Decimal, added_by: str) -> None:
    async with conn.transaction():
        await conn.execute("LOCK TABLE reference_rates IN SHARE ROW EXCLUSIVE MODE")
        table = await load_rate_table(conn)
        try:
            table.with_row(RateRow(effective_from, rate))
        except RateTableError:
            raise OperationError(
                409,
                "rate-out-of-order",
                f"Nowa stopa musi obowiązywać od dnia późniejszego niż ostatnia w tabeli "
                f"({table.rows[-1].effective_from.isoformat()}).",
                "effective_from",
            ) from None
        await repo.add_rates(conn, [(effective_from, rate)], added_by)


def _settlements_by_root(
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
    calculation: Any,
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
    }


async def late_payment_notes(
    conn: repo.Conn,
    invoice_numbers: list[str],
    new_payment_ids: set[str],
    today: date,
    table: RateTable,
) -> list[dict[str, Any]]:
    """Issue a note for each new payment that paid part of a settlement late.

    Days already charged by an on-demand note are not charged again: a later payment's
    interest runs from the day after the last on-demand note's end.
    """
    invoices, payments, kinds = await repo.settlement_rows(conn, invoice_numbers)
    charged_to = await repo.on_demand_charged_to(conn, [r["invoice_number"] for r in invoices])
    counts = await repo.note_counts(conn, [r["invoice_number"] for r in invoices])
    notes: list[dict[str, Any]] = []
    for s, client in _settlements_by_root(invoices, payments).values():
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
            if calc is None or calc.total <= 0:
                continue
            counts[facts.invoice_number] = counts.get(facts.invoice_number, 0) + 1
            notes.append(
                note_record(
                    note_number=note_number_for(facts.invoice_number, counts[facts.invoice_number]),
                    client_number=client,
                    invoice_number=facts.invoice_number,
                    payment_id=facts.payment_id,
                    reason="late-payment",
                    issue_date=today,
                    kind=str(kind),
                    principal=share.covered,
                    due_date=s.due_date,
                    calculation=calc,
                )
            )
    if notes:
        await repo.insert_notes(conn, notes)
    return notes


async def issue_on_demand_note(
    conn: repo.Conn, outbox: Outbox, invoice_number: str, today: date
) -> tuple[dict[str, Any] | repo.Record, bool]:
    """Interest on the unpaid rest of an overdue invoice up to today, as a note.

    Asking again the same day gives the same note; a later note charges only the days
    after the previous one.
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
        s, client = _settlements_by_root(invoices, payments)[root]
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
        )
        await repo.insert_notes(conn, [note])
        await _publish(
            conn, outbox, [ev.event(ev.INTEREST_NOTE_ISSUED, ev.interest_note_issued(note))]
        )
        return note, True


# -- e-invoices (terms III.c) -------------------------------------------------------------

CONFIRMATION_VALID = timedelta(days=7)
BUSINESS_E_INVOICE = (
    "Dla klientów prowadzących działalność gospodarczą (z numerem NIP) fakturą jest faktura "
    "ustrukturyzowana wystawiana w Krajowym Systemie e-Faktur (KSeF) — to ona jest dokumentem "
    "wiążącym prawnie i jest dostępna w KSeF. Zgoda na e-fakturę e-mailem dotyczy wyłącznie "
    "klientów indywidualnych (gospodarstw domowych)."
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _household(conn: repo.Conn, client_number: str) -> repo.Record:
    client = await repo.lock_client(conn, client_number)
    if client is None:
        raise OperationError(404, "not-found", "Nie znaleziono klienta.")
    if client["kind"] == "business":
        raise OperationError(409, "e-invoice-ksef", BUSINESS_E_INVOICE)
    return client


async def request_e_invoice(
    conn: repo.Conn, outbox: Outbox, client_number: str, email: str, source: str, now: datetime
) -> dict[str, Any]:
    async with conn.transaction():
        await _household(conn, client_number)
        current = await repo.consent(conn, client_number)
        accepted = current is not None and current["status"] == "accepted"
        if accepted and current["email"].lower() == email.lower():
            raise OperationError(
                409, "e-invoice-same-address", "E-faktury są już wysyłane na ten adres.", "email"
            )
        purpose = "change" if accepted else "accept"
        token = secrets.token_urlsafe(32)
        expires = now + CONFIRMATION_VALID
        await repo.supersede_requests(conn, client_number, now)
        await repo.add_request(conn, token_hash(token), client_number, email, purpose, now, expires)
        await repo.add_history(conn, client_number, now, "requested", purpose, email, source)
        await _publish(
            conn,
            outbox,
            [
                ev.event(
                    ev.CONFIRMATION_REQUESTED,
                    ev.confirmation_requested(client_number, email, token, purpose, expires),
                )
            ],
        )
    return {"purpose": purpose, "email": email, "expires_at": expires}


async def confirm_e_invoice(
    conn: repo.Conn, outbox: Outbox, token: str, now: datetime
) -> dict[str, Any]:
    async with conn.transaction():
        request = await repo.take_request(conn, token_hash(token))
        if request is None or request["closed_at"] is not None or request["expires_at"] <= now:
            raise OperationError(
                404,
                "confirmation-invalid",
                "Link potwierdzający jest nieprawidłowy, został już użyty lub wygasł. "
                "Zgłoś adres ponownie w e-BOK.",
                "token",
            )
        client_number = request["client_number"]
        await _household(conn, client_number)
        await repo.close_request(conn, request["token_hash"], now)
        await repo.set_consent(conn, client_number, "accepted", request["email"], now)
        await repo.add_history(
            conn,
            client_number,
            now,
            "confirmed",
            request["purpose"],
            request["email"],
            "confirmation-link",
        )
        await _publish(
            conn,
            outbox,
            [
                ev.event(
                    ev.CONSENT_CHANGED,
                    ev.consent_changed(
                        client_number, "accepted", request["email"], now, "confirmation-link"
                    ),
                )
            ],
        )
    return {"client_number": client_number, "status": "accepted", "email": request["email"]}


async def withdraw_e_invoice(
    conn: repo.Conn, outbox: Outbox, client_number: str, source: str, now: datetime
) -> None:
    async with conn.transaction():
        await _household(conn, client_number)
        current = await repo.consent(conn, client_number)
        pending = await repo.pending_request(conn, client_number, now)
        if (current is None or current["status"] != "accepted") and pending is None:
            raise OperationError(
                409, "e-invoice-not-accepted", "Nie ma zgody na e-fakturę do wycofania."
            )
        await repo.supersede_requests(conn, client_number, now)
        await repo.add_history(conn, client_number, now, "withdrawn", None, None, source)
        if current is not None and current["status"] == "accepted":
            await repo.set_consent(conn, client_number, "withdrawn", None, now)
            await _publish(
                conn,
                outbox,
                [
                    ev.event(
                        ev.CONSENT_CHANGED,
                        ev.consent_changed(client_number, "withdrawn", None, now, source),
                    )
                ],
            )
