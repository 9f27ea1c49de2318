"""The back office's feed: a batch of client, contract, invoice and payment rows, checked
as a whole and applied in one transaction, or not at all (see `feed.domain`); the flow, the
batch's record and its answer are the shared feed's (``ebok_shared.feed``)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ebok_shared.bus import Event, Outbox
from ebok_shared.feed import BatchResult, Counts, LineErrors
from ebok_shared.feed import apply as shared_feed
from ebok_shared.feed import repository as batches
from ebok_shared.refusals import not_found

from .. import events as ev
from ..clients import repository as clients_repo
from ..clients.domain import Buyer
from ..common.connection import Conn, Record
from ..e_invoice import repository as e_invoice_repo
from ..interest.rates import RateTable
from ..interest.use_cases import load_rate_table
from ..ledger import repository as ledger_repo
from ..ledger.use_cases import post_payments
from . import domain as feed
from . import repository as repo
from .domain import BatchRefused

KIND = "billing"  # the kind of billing's batches in the shared batch table
KINDS = (KIND,)

Events = list[tuple[Event, str | None]]


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

    def counts(self) -> Counts:
        kinds = (self.clients, self.contracts, self.invoices, self.payments)
        return Counts(
            applied=sum(k["created"] + k["updated"] for k in kinds),
            unchanged=sum(k["unchanged"] for k in kinds),
            summary=self.to_dict(),
        )


async def apply_batch(
    conn: Conn,
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
    parsed = await asyncio.to_thread(feed.parse, raw, fmt, max_rows=max_rows, today=today)
    keys = feed.referenced_keys(parsed)

    async def lock(conn: Conn) -> None:
        await repo.lock_feed(conn, keys.clients, [r.contract_number for r in parsed.contracts])

    async def apply(conn: Conn, _batch_id: uuid.UUID, errors: LineErrors) -> Counts:
        known = await _known(conn, keys)
        await asyncio.to_thread(feed.check_references, parsed, known)
        if errors:
            return Counts()
        table = await load_rate_table(conn)
        summary = _Summary()
        try:
            await _apply(conn, outbox, parsed, known, summary, today, table)
        except BatchRefused as refused:
            for line, field_name, reason in refused.errors:
                errors.add(line, field_name, reason)
            return Counts()
        return summary.counts()

    return await shared_feed.apply_batch(
        conn,
        kind=KIND,
        body=raw,
        fmt=fmt,
        row_count=parsed.row_count,
        errors=parsed.problems,
        submitted_by=submitted_by,
        lock=lock,
        apply=apply,
    )


async def _known(conn: Conn, keys: feed.Keys) -> feed.Known:
    """What the database already holds of the keys a batch names, as the feed compares."""
    rows = await repo.known_rows(
        conn,
        clients=keys.clients,
        contracts=keys.contracts,
        invoices=keys.invoices,
        payments=keys.payments,
        notes=keys.notes,
    )
    known = feed.Known()
    for r in rows.clients:
        known.clients[r["client_number"]] = (
            r["name"],
            r["kind"],
            r["nip"],
            r["email"],
            r["street"],
            r["postal_code"],
            r["city"],
        )
        known.client_kinds[r["client_number"]] = r["kind"]
    for r in rows.contracts:
        known.contracts[r["contract_number"]] = (
            r["client_number"],
            r["concluded_on"],
            r["street"],
            r["postal_code"],
            r["city"],
            r["tariff_group"],
            tuple(r["meter_serials"]),
        )
        known.contract_terminated[r["contract_number"]] = r["terminated_on"]
    for r in rows.invoices:
        known.invoices[r["invoice_number"]] = feed.invoice_content(*list(r.values())[1:])
    for r in rows.payments:
        known.payments[r["payment_id"]] = (
            r["client_number"],
            r["invoice_number"],
            r["paid_on"],
            r["amount"].normalize(),
            r["note_number"],
            r["title"],
        )
    for r in rows.notes:
        known.notes[r["note_number"]] = r["client_number"]
    return known


async def _apply(
    conn: Conn,
    outbox: Outbox,
    batch: feed.ParsedBatch,
    known: feed.Known,
    summary: _Summary,
    today: date,
    table: RateTable,
) -> None:
    out: Events = []
    out += await _apply_clients(conn, batch, known, summary)
    out += await _apply_contracts(conn, batch, known, summary)
    out += await _apply_invoices(conn, batch, known, summary)
    out += await _apply_payments(conn, batch, known, summary, today, table)
    summary.events = len(out)
    await ev.publish(conn, outbox, out)


async def _apply_clients(
    conn: Conn, batch: feed.ParsedBatch, known: feed.Known, summary: _Summary
) -> Events:
    """New and changed clients; an unchanged one raises no event."""
    new = [c for c in batch.clients if c.client_number not in known.clients]
    changed = [
        c
        for c in batch.clients
        if c.client_number in known.clients and known.clients[c.client_number] != c.content()
    ]
    await clients_repo.insert_clients(conn, new)
    await clients_repo.update_clients(conn, changed)
    summary.clients.update(
        created=len(new),
        updated=len(changed),
        unchanged=len(batch.clients) - len(new) - len(changed),
    )
    out: Events = []
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
    return out


async def _apply_contracts(
    conn: Conn, batch: feed.ParsedBatch, known: feed.Known, summary: _Summary
) -> Events:
    """New and changed contracts: a change of terms (or a contract back in force) is
    announced as concluded again, a new termination as terminated."""
    new, changed = [], []
    concluded, terminated = [], []
    for k in batch.contracts:
        old_terms = known.contracts.get(k.contract_number)
        if old_terms is None:
            new.append(k)
            concluded.append(k)
            if k.terminated_on is not None:
                terminated.append(k)
            continue
        old_end = known.contract_terminated.get(k.contract_number)
        if old_terms == k.terms() and old_end == k.terminated_on:
            continue
        changed.append(k)
        if old_terms != k.terms() or k.terminated_on is None:
            concluded.append(k)
        if k.terminated_on is not None and k.terminated_on != old_end:
            terminated.append(k)
    await clients_repo.insert_contracts(conn, new)
    await clients_repo.update_contracts(conn, changed)
    summary.contracts.update(
        created=len(new),
        updated=len(changed),
        unchanged=len(batch.contracts) - len(new) - len(changed),
    )
    out: Events = []
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
        active = await clients_repo.active_contracts(
            conn, sorted({k.client_number for k in terminated})
        )
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
    return out


async def _apply_invoices(
    conn: Conn, batch: feed.ParsedBatch, known: feed.Known, summary: _Summary
) -> Events:
    """New invoices (an invoice, once there, changes only by a correction)."""
    new = [i for i in batch.invoices if i.invoice_number not in known.invoices]
    summary.invoices.update(created=len(new), unchanged=len(batch.invoices) - len(new))
    if not new:
        return []
    e_mail = await e_invoice_repo.e_invoice_addresses(conn, sorted({i.client_number for i in new}))
    # originals before their corrections (the foreign key), otherwise in batch order
    new.sort(key=lambda i: i.corrects is not None)
    await ledger_repo.insert_invoices(conn, new, e_mail, "feed", _buyers(batch, known, new))
    corrected = sorted({i.corrects for i in new if i.corrects})
    if corrected:
        await ledger_repo.mark_corrected(conn, corrected)
    return [
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
        for i in sorted(new, key=lambda i: i.line)
    ]


async def _apply_payments(
    conn: Conn,
    batch: feed.ParsedBatch,
    known: feed.Known,
    summary: _Summary,
    today: date,
    table: RateTable,
) -> Events:
    """New payments (allocated to debts), then interest on the late ones."""
    new = [p for p in batch.payments if p.payment_id not in known.payments]
    summary.payments.update(created=len(new), unchanged=len(batch.payments) - len(new))
    if not new:
        return []
    line_of = {p.payment_id: p.line for p in new}
    posted, summary.interest_notes = await post_payments(conn, new, today, table, line_of)
    return list(posted)


def _buyers(
    batch: feed.ParsedBatch, known: feed.Known, invoices: list[feed.InvoiceRow]
) -> dict[str, Buyer]:
    """Each invoice's buyer as the batch leaves the client: the batch's own client row if
    it has one, else the client as the database holds it."""
    in_batch = {c.client_number: c for c in batch.clients}
    buyers: dict[str, Buyer] = {}
    for number in {i.client_number for i in invoices}:
        row = in_batch.get(number)
        if row is not None:
            a = row.address
            buyers[number] = Buyer(row.name, a.street, a.postal_code, a.city, row.nip)
        else:
            name, _kind, nip, _email, street, postal_code, city = known.clients[number]
            buyers[number] = Buyer(name, street, postal_code, city, nip)
    return buyers


# -- what operators read of the batches --------------------------------------------------------


async def batch_page(conn: Conn, limit: int, offset: int) -> tuple[int, list[Record]]:
    return await batches.batch_page(conn, KINDS, limit, offset)


async def batch(conn: Conn, batch_id: uuid.UUID) -> BatchResult:
    row = await batches.batch(conn, KINDS, batch_id)
    if row is None:
        raise not_found("Nie znaleziono partii.")
    return BatchResult.from_record(row, replayed=False)
