"""Clients and their contracts as customers, other services and the export read them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ebok_shared.refusals import not_found

from ..common.connection import Conn, Record
from ..e_invoice import repository as e_invoice_repo
from ..interest import repository as interest_repo
from ..ledger import repository as ledger_repo
from . import repository as repo

_EXPORT_LIMIT = 100_000  # far beyond any client's history; the export is never paged


async def contracts(conn: Conn, client_number: str) -> list[Record]:
    return await repo.contracts_of(conn, client_number)


async def own_contract(conn: Conn, client_number: str, contract_number: str) -> Record:
    """A client's own contract; another client's answers exactly like a missing one."""
    row = await repo.contract_of(conn, contract_number)
    if row is None or row["client_number"] != client_number:
        raise not_found("Nie znaleziono umowy.")
    return row


@dataclass(frozen=True)
class ClientSummary:
    client: Record
    consent: Record | None
    active_contracts: int


async def client_summary(conn: Conn, client_number: str) -> ClientSummary:
    """A client as other e-BOK services read it."""
    row = await repo.client(conn, client_number)
    if row is None:
        raise not_found("Nie znaleziono klienta.")
    consent = await e_invoice_repo.consent(conn, client_number)
    active = (await repo.active_contracts(conn, [client_number]))[client_number]
    return ClientSummary(row, consent, active)


@dataclass(frozen=True)
class Export:
    """Everything billing holds about a client (terms I.7: the right to see one's data)."""

    client: Record
    consent: Record | None
    contracts: list[Record]
    invoices: list[Record]
    notes: list[Record]
    history: list[Record]
    payments: list[Record]

    @property
    def active_contracts(self) -> int:
        return sum(1 for c in self.contracts if c["terminated_on"] is None)


async def export(conn: Conn, client_number: str, today: date) -> Export:
    client = await repo.client(conn, client_number)
    if client is None:
        raise not_found("Nie znaleziono klienta.")
    consent = await e_invoice_repo.consent(conn, client_number)
    contracts_ = await repo.contracts_of(conn, client_number)
    _, invoices = await ledger_repo.invoice_page(
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
    _, notes = await interest_repo.note_page(conn, client_number, _EXPORT_LIMIT, 0)
    history = await e_invoice_repo.history(conn, client_number, _EXPORT_LIMIT)
    payments = await ledger_repo.payments_of_client(conn, client_number)
    return Export(client, consent, contracts_, invoices, notes, history, payments)
