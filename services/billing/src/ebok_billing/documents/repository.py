"""What printed documents are made from."""

from __future__ import annotations

from ..common.connection import Conn, Record
from ..ledger.repository import INVOICE_COLUMNS


async def invoice_for_pdf(conn: Conn, invoice_number: str) -> tuple[Record, Record] | None:
    """The invoice and its buyer as on the day of issue (the snapshot kept on the invoice,
    never the client's data as it is now)."""
    inv = await conn.fetchrow(
        f"SELECT {INVOICE_COLUMNS} FROM invoices i WHERE i.invoice_number = $1", invoice_number
    )
    if inv is None:
        return None
    buyer = await conn.fetchrow(
        """SELECT client_number, buyer_name AS name, buyer_street AS street,
                  buyer_postal_code AS postal_code, buyer_city AS city, buyer_nip AS nip
           FROM invoices WHERE invoice_number = $1""",
        invoice_number,
    )
    return inv, buyer
