"""Printed documents: an invoice (original or copy) and a contract's document, as PDF bytes."""

from __future__ import annotations

from datetime import date

from ebok_shared.refusals import not_found

from ..clients import repository as clients_repo
from ..clients.use_cases import own_contract
from ..common.connection import Conn
from ..ledger.use_cases import own_invoice
from . import rendering as documents
from . import repository as repo
from .utility import Utility


async def own_invoice_copy(
    conn: Conn, client_number: str, invoice_number: str, today: date, utility: Utility
) -> bytes:
    """The copy of a client's own invoice (another client's answers like a missing one)."""
    row = await own_invoice(conn, client_number, invoice_number, today)
    return await invoice_pdf(conn, row["invoice_number"], utility, copy=True)


async def invoice_original(conn: Conn, invoice_number: str, utility: Utility) -> bytes:
    """Any invoice's original (what an e-invoice e-mail carries: not stamped "ODPIS")."""
    return await invoice_pdf(conn, invoice_number, utility, copy=False)


async def invoice_pdf(conn: Conn, invoice_number: str, utility: Utility, *, copy: bool) -> bytes:
    """Any invoice, with its buyer as on the day of issue."""
    found = await repo.invoice_for_pdf(conn, invoice_number)
    if found is None:
        raise not_found("Nie znaleziono faktury.")
    return await documents.invoice_document(*found, utility, copy=copy)


async def own_contract_document(
    conn: Conn, client_number: str, contract_number: str, utility: Utility
) -> tuple[str, bytes]:
    """A client's own contract document: the contract's number and the PDF."""
    row = await own_contract(conn, client_number, contract_number)
    client = await clients_repo.client(conn, row["client_number"])
    body = await documents.contract_document(row, client, utility)
    return row["contract_number"], body
