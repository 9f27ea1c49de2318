"""Interest: the notes issued, the settlements they are computed from, and the two rate
tables operators keep (NBP reference rates, NBP average EUR rates)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from ..common.connection import Conn, Record
from ..ledger.repository import PRINCIPAL


async def settlement_rows(
    conn: Conn, invoice_numbers: Sequence[str]
) -> tuple[list[Record], list[Record], dict[str, str]]:
    """The invoices (with their corrections and originals), their payments, and each
    client's kind, for the given invoices."""
    invoices = await conn.fetch(
        """WITH roots AS (
               SELECT DISTINCT coalesce(corrects, invoice_number) AS root FROM invoices
               WHERE invoice_number = ANY($1::text[]))
           SELECT i.invoice_number, i.client_number, i.gross, i.due_date, i.corrects
           FROM invoices i WHERE i.invoice_number IN (SELECT root FROM roots)
           UNION ALL
           SELECT i.invoice_number, i.client_number, i.gross, i.due_date, i.corrects
           FROM invoices i WHERE i.corrects IN (SELECT root FROM roots)""",
        list(invoice_numbers),
    )
    numbers = [r["invoice_number"] for r in invoices]
    payments = await conn.fetch(
        f"""SELECT {PRINCIPAL} WHERE a.note_number IS NULL
                AND a.invoice_number = ANY($1::text[])
            GROUP BY a.payment_id, a.invoice_number, p.paid_on, p.posted_at
            ORDER BY p.paid_on, p.posted_at, a.payment_id""",
        numbers,
    )
    kinds = {
        r["client_number"]: r["kind"]
        for r in await conn.fetch(
            "SELECT client_number, kind FROM clients WHERE client_number = ANY($1::text[])",
            list({r["client_number"] for r in invoices}),
        )
    }
    return invoices, payments, kinds


async def note_counts(conn: Conn, invoice_numbers: Sequence[str]) -> dict[str, int]:
    rows = await conn.fetch(
        """SELECT invoice_number, count(*) AS n FROM interest_notes
           WHERE invoice_number = ANY($1::text[]) GROUP BY invoice_number""",
        list(invoice_numbers),
    )
    return {r["invoice_number"]: r["n"] for r in rows}


async def noted_payments(conn: Conn, payment_ids: Sequence[str]) -> set[str]:
    rows = await conn.fetch(
        "SELECT payment_id FROM interest_notes WHERE payment_id = ANY($1::text[])",
        list(payment_ids),
    )
    return {r["payment_id"] for r in rows}


NOTE_COLUMNS = [
    "note_number",
    "client_number",
    "invoice_number",
    "payment_id",
    "reason",
    "issue_date",
    "kind",
    "principal",
    "due_date",
    "interest_to",
    "days_late",
    "periods",
    "amount",
    "payable_by",
    "compensation_for",
    "compensation_eur",
    "compensation_rate",
    "compensation_rate_date",
    "compensation_rate_table",
    "compensation_pln",
]


async def compensated(conn: Conn, roots: Sequence[str]) -> set[str]:
    """The invoices (settlement roots) whose recovery compensation was already charged."""
    rows = await conn.fetch(
        "SELECT compensation_for FROM interest_notes WHERE compensation_for = ANY($1::text[])",
        list(roots),
    )
    return {r["compensation_for"] for r in rows}


async def insert_notes(conn: Conn, notes: Sequence[dict[str, Any]]) -> None:
    await conn.executemany(
        f"INSERT INTO interest_notes ({', '.join(NOTE_COLUMNS)}) VALUES "
        f"({', '.join(f'${i}' for i in range(1, len(NOTE_COLUMNS) + 1))})",
        [tuple(n[c] for c in NOTE_COLUMNS) for n in notes],
    )


async def on_demand_note(conn: Conn, invoice_number: str, interest_to: date) -> Record | None:
    return await conn.fetchrow(
        "SELECT * FROM interest_notes WHERE invoice_number = $1 AND interest_to = $2"
        " AND reason = 'on-demand'",
        invoice_number,
        interest_to,
    )


async def notes_of_invoice(conn: Conn, invoice_number: str) -> list[Record]:
    return await conn.fetch(
        "SELECT * FROM interest_notes WHERE invoice_number = $1 ORDER BY issue_date, note_number",
        invoice_number,
    )


async def note_page(
    conn: Conn, client_number: str, limit: int, offset: int
) -> tuple[int, list[Record]]:
    total = await conn.fetchval(
        "SELECT count(*) FROM interest_notes WHERE client_number = $1", client_number
    )
    rows = await conn.fetch(
        """SELECT * FROM interest_notes WHERE client_number = $1
           ORDER BY issue_date DESC, note_number DESC LIMIT $2 OFFSET $3""",
        client_number,
        limit,
        offset,
    )
    return total, rows


async def on_demand_charged_to(conn: Conn, invoice_numbers: Sequence[str]) -> dict[str, date]:
    """For each invoice, the last day an on-demand note already charged interest for."""
    rows = await conn.fetch(
        """SELECT invoice_number, max(interest_to) AS upto FROM interest_notes
           WHERE reason = 'on-demand' AND invoice_number = ANY($1::text[])
           GROUP BY invoice_number""",
        list(invoice_numbers),
    )
    return {r["invoice_number"]: r["upto"] for r in rows}


async def rate_rows(conn: Conn) -> list[Record]:
    return await conn.fetch(
        "SELECT effective_from, reference_rate_percent, added_by, added_at"
        " FROM reference_rates ORDER BY effective_from"
    )


async def add_rates(conn: Conn, rows: Sequence[tuple[date, Decimal]], added_by: str) -> int:
    result = await conn.executemany(
        "INSERT INTO reference_rates (effective_from, reference_rate_percent, added_by)"
        " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        [(d, r, added_by) for d, r in rows],
    )
    del result
    return len(rows)


async def eur_rates(conn: Conn) -> list[Record]:
    return await conn.fetch(
        "SELECT rate_date, eur_pln, table_number, added_by, added_at FROM eur_rates"
        " ORDER BY rate_date"
    )


async def eur_rate(conn: Conn, rate_date: date) -> Record | None:
    return await conn.fetchrow("SELECT * FROM eur_rates WHERE rate_date = $1", rate_date)


async def add_eur_rate(
    conn: Conn, rate_date: date, eur_pln: Decimal, table_number: str | None, added_by: str
) -> None:
    await conn.execute(
        "INSERT INTO eur_rates (rate_date, eur_pln, table_number, added_by)"
        " VALUES ($1, $2, $3, $4)",
        rate_date,
        eur_pln,
        table_number,
        added_by,
    )


async def lock_reference_rates(conn: Conn) -> None:
    """Rate rows are added one writer at a time (each must follow the last)."""
    await conn.execute("LOCK TABLE reference_rates IN SHARE ROW EXCLUSIVE MODE")


async def lock_eur_rates(conn: Conn) -> None:
    await conn.execute("LOCK TABLE eur_rates IN SHARE ROW EXCLUSIVE MODE")
