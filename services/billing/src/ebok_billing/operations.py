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
from typing import Any

from ebok_shared.bus import Event, Outbox
from ebok_shared.logs import correlation_id_var, get_logger

from . import events as ev
from . import feed
from . import repository as repo
from .common import BatchRefused, OperationError
from .common import publish as _publish
from .notes import issue_on_demand_note
from .posting import post_payments
from .rate_tables import add_eur_rate, add_rate, load_rate_table, seed_rates
from .rates import RateTable

__all__ = [
    "BatchResult",
    "OperationError",
    "add_eur_rate",
    "add_rate",
    "apply_batch",
    "issue_on_demand_note",
    "load_rate_table",
    "seed_rates",
]

log = get_logger(__name__)


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
    keys = feed.referenced_keys(parsed)
    async with conn.transaction():
        await repo.lock_feed(conn, keys.clients, [r.contract_number for r in parsed.contracts])
        prior = await repo.applied_batch(conn, checksum)
        if prior is not None:
            return BatchResult.from_record(prior, replayed=True)
        known = feed.Known()
        if not parsed.error_count:
            known = await repo.known_state(conn, keys)
            await asyncio.to_thread(feed.check_references, parsed, known)
        summary = _Summary()
        status = "rejected"
        if not parsed.error_count:
            table = await load_rate_table(conn)
            try:
                async with conn.transaction():  # a savepoint: refused means nothing applied
                    await _apply(conn, outbox, parsed, known, summary, today, table)
                status = "applied"
            except BatchRefused as refused:
                summary = _Summary()
                for line, field_name, reason in refused.errors:
                    parsed.error(line, field_name, reason)
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
        await repo.insert_invoices(
            conn, new_invoices, e_mail, "feed", _buyers(batch, known, new_invoices)
        )
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

    # payments (allocated to debts), then interest on the late ones
    new_payments = [p for p in batch.payments if p.payment_id not in known.payments]
    summary.payments.update(
        created=len(new_payments), unchanged=len(batch.payments) - len(new_payments)
    )
    if new_payments:
        posted, summary.interest_notes = await post_payments(conn, new_payments, today, table)
        out.extend(posted)
    summary.events = len(out)
    await _publish(conn, outbox, out)


def _buyers(
    batch: feed.ParsedBatch, known: feed.Known, invoices: list[feed.InvoiceRow]
) -> dict[str, repo.Buyer]:
    """Each invoice's buyer as the batch leaves the client: the batch's own client row if
    it has one, else the client as the database holds it."""
    in_batch = {c.client_number: c for c in batch.clients}
    buyers: dict[str, repo.Buyer] = {}
    for number in {i.client_number for i in invoices}:
        row = in_batch.get(number)
        if row is not None:
            a = row.address
            buyers[number] = (row.name, a.street, a.postal_code, a.city, row.nip)
        else:
            name, _kind, nip, _email, street, postal_code, city = known.clients[number]
            buyers[number] = (name, street, postal_code, city, nip)
    return buyers


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
        if accepted and current is not None and current["email"].lower() == email.lower():
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
