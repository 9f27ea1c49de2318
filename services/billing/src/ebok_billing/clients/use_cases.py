"""Clients and their contracts as customers, other services and the export read them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ebok_shared.refusals import not_found

from .. import repositories as repo

_EXPORT_LIMIT = 100_000  # far beyond any client's history; the export is never paged


async def contracts(conn: repo.Conn, client_number: str) -> list[repo.Record]:
    return await repo.clients.contracts_of(conn, client_number)


async def own_contract(conn: repo.Conn, client_number: str, contract_number: str) -> repo.Record:
    """A client's own contract; another client's answers exactly like a missing one."""
    row = await repo.clients.contract_of(conn, contract_number)
    if row is None or row["client_number"] != client_number:
        raise not_found("Nie znaleziono umowy.")
    return row


@dataclass(frozen=True)
class ClientSummary:
    client: repo.Record
    consent: repo.Record | None
    active_contracts: int


async def client_summary(conn: repo.Conn, client_number: str) -> ClientSummary:
    """A client as other e-BOK services read it."""
    row = await repo.clients.client(conn, client_number)
    if row is None:
        raise not_found("Nie znaleziono klienta.")
    consent = await repo.e_invoice.consent(conn, client_number)
    active = (await repo.clients.active_contracts(conn, [client_number]))[client_number]
    return ClientSummary(row, consent, active)


@dataclass(frozen=True)
class Export:
    """Everything billing holds about a client (terms I.7: the right to see one's data)."""

    client: repo.Record
    consent: repo.Record | None
    contracts: list[repo.Record]
    invoices: list[repo.Record]
    notes: list[repo.Record]
    history: list[repo.Record]
    payments: list[repo.Record]

    @property
    def active_contracts(self) -> int:
        return sum(1 for c in self.contracts if c["terminated_on"] is None)


async def export(conn: repo.Conn, client_number: str, today: date) -> Export:
    client = await repo.clients.client(conn, client_number)
    if client is None:
        raise not_found("Nie znaleziono klienta.")
    consent = await repo.e_invoice.consent(conn, client_number)
    contracts_ = await repo.clients.contracts_of(conn, client_number)
    _, invoices = await repo.ledger.invoice_page(
        conn,
        client_number,
        today,
        date_from=None,
        date_to=None,
        status=None,
        hidden=[],  # the export is all of the customer's data, hidden from the portal or not
        limit=_EXPORT_LIMIT,
        offset=0,
    )
    _, notes = await repo.interest.note_page(conn, client_number, _EXPORT_LIMIT, 0)
    history = await repo.e_invoice.history(conn, client_number, _EXPORT_LIMIT)
    payments = await repo.ledger.payments_of_client(conn, client_number)
    return Export(client, consent, contracts_, invoices, notes, history, payments)
