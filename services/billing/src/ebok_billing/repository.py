"""billing SQL: every query of this service, plain asyncpg."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeAlias

import asyncpg

from .feed import ClientRow, ContractRow, InvoiceRow, Keys, Known, PaymentRow, invoice_content

Conn: TypeAlias = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
Record: TypeAlias = asyncpg.Record

# Feed batches about the same clients go one at a time; about different clients, side by side.
# Each batch holds the advisory locks (FEED_LOCK, bucket) of its clients' buckets and of the
# contract numbers it creates (unique across clients), taken in order (no deadlock).
FEED_LOCK = 0x0EB0C
FEED_BUCKETS = 64

# The rule of domain.invoice_status, in SQL, so the list can filter and page by it.
STATUS_SQL = """CASE WHEN i.corrected THEN 'corrected'
     WHEN i.amount_paid >= i.gross THEN 'paid'
     WHEN i.due_date < $2 THEN 'overdue'
     WHEN i.amount_paid > 0 THEN 'partly_paid'
     ELSE 'unpaid' END"""

INVOICE_COLUMNS = """i.invoice_number, i.client_number, i.contract_number, i.issue_date,
    i.due_date, i.period_from, i.period_to, i.water_m3, i.water_price, i.water_net,
    i.sewage_m3, i.sewage_price, i.sewage_net, i.subscription_net, i.vat_rate, i.net, i.vat,
    i.gross, i.amount_paid, i.ksef_number, i.ksef_hash, i.corrects, i.corrected, i.delivery,
    i.e_invoice_email, i.source"""


# -- feed: what the database holds ----------------------------------------------------


async def lock_feed(conn: Conn, clients: Sequence[str], new_contracts: Sequence[str]) -> None:
    buckets = {int(c) % FEED_BUCKETS for c in clients if c.isdigit()}
    buckets.update(zlib.crc32(c.encode()) % FEED_BUCKETS for c in new_contracts)
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1, bucket) FROM unnest($2::int[]) AS bucket",
        FEED_LOCK,
        sorted(buckets),
    )


async def known_state(conn: Conn, keys: Keys) -> Known:
    known = Known()
    for r in await conn.fetch(
        "SELECT * FROM clients WHERE client_number = ANY($1::text[])", keys.clients
    ):
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
    for r in await conn.fetch(
        "SELECT * FROM contracts WHERE contract_number = ANY($1::text[])", keys.contracts
    ):
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
    for r in await conn.fetch(
        """SELECT invoice_number, client_number, contract_number, issue_date, due_date,
                  period_from, period_to, water_m3, water_price, sewage_m3, sewage_price,
                  subscription_net, vat_rate, net, vat, gross, ksef_number, ksef_hash, corrects
           FROM invoices WHERE invoice_number = ANY($1::text[])""",
        keys.invoices,
    ):
        known.invoices[r["invoice_number"]] = invoice_content(*list(r.values())[1:])
    for r in await conn.fetch(
        "SELECT payment_id, client_number, invoice_number, paid_on, amount, note_number"
        " FROM payments WHERE payment_id = ANY($1::text[])",
        keys.payments,
    ):
        known.payments[r["payment_id"]] = (
            r["client_number"],
            r["invoice_number"],
            r["paid_on"],
            r["amount"].normalize(),
            r["note_number"],
        )
    for r in await conn.fetch(
        "SELECT note_number, client_number FROM interest_notes WHERE note_number = ANY($1::text[])",
        keys.notes,
    ):
        known.notes[r["note_number"]] = r["client_number"]
    return known


async def applied_batch(conn: Conn, checksum: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT * FROM feed_batches WHERE checksum = $1 AND status = 'applied'", checksum
    )


async def record_batch(
    conn: Conn,
    *,
    batch_id: uuid.UUID,
    checksum: str,
    fmt: str,
    status: str,
    row_count: int,
    submitted_by: str,
    summary: dict[str, Any],
    error_count: int,
    errors: list[dict[str, Any]],
) -> Record:
    return await conn.fetchrow(  # type: ignore[no-any-return]
        """INSERT INTO feed_batches (batch_id, checksum, format, status, row_count,
               submitted_by, summary, error_count, errors)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *""",
        batch_id,
        checksum,
        fmt,
        status,
        row_count,
        submitted_by,
        summary,
        error_count,
        errors,
    )


async def feed_batch(conn: Conn, batch_id: uuid.UUID) -> Record | None:
    return await conn.fetchrow("SELECT * FROM feed_batches WHERE batch_id = $1", batch_id)


async def feed_batches(conn: Conn, limit: int, offset: int) -> tuple[int, list[Record]]:
    total = await conn.fetchval("SELECT count(*) FROM feed_batches")
    rows = await conn.fetch(
        """SELECT batch_id, checksum, format, status, row_count, submitted_by, received_at,
                  summary, error_count FROM feed_batches
           ORDER BY received_at DESC, batch_id LIMIT $1 OFFSET $2""",
        limit,
        offset,
    )
    return total, rows


# -- feed: writes -------------------------------------------------------------------


async def insert_clients(conn: Conn, rows: Sequence[ClientRow]) -> None:
    await conn.copy_records_to_table(
        "clients",
        columns=["client_number", "name", "kind", "nip", "email", "street", "postal_code", "city"],
        records=[
            (
                r.client_number,
                r.name,
                r.kind,
                r.nip,
                r.email,
                r.address.street,
                r.address.postal_code,
                r.address.city,
            )
            for r in rows
        ],
    )


async def update_clients(conn: Conn, rows: Sequence[ClientRow]) -> None:
    await conn.executemany(
        """UPDATE clients SET name = $2, kind = $3, nip = $4, email = $5, street = $6,
               postal_code = $7, city = $8, updated_at = now()
           WHERE client_number = $1""",
        [
            (
                r.client_number,
                r.name,
                r.kind,
                r.nip,
                r.email,
                r.address.street,
                r.address.postal_code,
                r.address.city,
            )
            for r in rows
        ],
    )


def _contract_values(r: ContractRow) -> tuple[Any, ...]:
    return (
        r.contract_number,
        r.client_number,
        r.concluded_on,
        r.terminated_on,
        r.address.street,
        r.address.postal_code,
        r.address.city,
        r.tariff_group,
        list(r.meter_serials),
    )


async def insert_contracts(conn: Conn, rows: Sequence[ContractRow]) -> None:
    await conn.copy_records_to_table(
        "contracts",
        columns=[
            "contract_number",
            "client_number",
            "concluded_on",
            "terminated_on",
            "street",
            "postal_code",
            "city",
            "tariff_group",
            "meter_serials",
        ],
        records=[_contract_values(r) for r in rows],
    )


async def update_contracts(conn: Conn, rows: Sequence[ContractRow]) -> None:
    await conn.executemany(
        """UPDATE contracts SET client_number = $2, concluded_on = $3, terminated_on = $4,
               street = $5, postal_code = $6, city = $7, tariff_group = $8,
               meter_serials = $9, updated_at = now()
           WHERE contract_number = $1""",
        [_contract_values(r) for r in rows],
    )


async def active_contracts(conn: Conn, client_numbers: Sequence[str]) -> dict[str, int]:
    rows = await conn.fetch(
        """SELECT c.client_number, count(k.contract_number) AS active
           FROM unnest($1::text[]) AS c(client_number)
           LEFT JOIN contracts k ON k.client_number = c.client_number
                                AND k.terminated_on IS NULL
           GROUP BY c.client_number""",
        list(client_numbers),
    )
    return {r["client_number"]: r["active"] for r in rows}


async def e_invoice_addresses(conn: Conn, client_numbers: Sequence[str]) -> dict[str, str]:
    """Clients whose e-invoice consent is in force, and the address to send to."""
    rows = await conn.fetch(
        """SELECT client_number, email FROM e_invoice_consents
           WHERE status = 'accepted' AND client_number = ANY($1::text[])""",
        list(client_numbers),
    )
    return {r["client_number"]: r["email"] for r in rows}


Buyer = tuple[str, str, str, str, str | None]  # name, street, postal code, city, NIP


async def insert_invoices(
    conn: Conn,
    rows: Sequence[InvoiceRow],
    e_mail: dict[str, str],
    source: str,
    buyers: dict[str, Buyer],
) -> None:
    """Insert invoices with their buyer's data as it is on the day they are issued
    (``buyers``: client number → name, street, postal code, city, NIP)."""
    await conn.copy_records_to_table(
        "invoices",
        columns=[
            "invoice_number",
            "client_number",
            "contract_number",
            "issue_date",
            "due_date",
            "period_from",
            "period_to",
            "water_m3",
            "water_price",
            "water_net",
            "sewage_m3",
            "sewage_price",
            "sewage_net",
            "subscription_net",
            "vat_rate",
            "net",
            "vat",
            "gross",
            "ksef_number",
            "ksef_hash",
            "corrects",
            "delivery",
            "e_invoice_email",
            "source",
            "buyer_name",
            "buyer_street",
            "buyer_postal_code",
            "buyer_city",
            "buyer_nip",
        ],
        records=[
            (
                r.invoice_number,
                r.client_number,
                r.contract_number,
                r.issue_date,
                r.due_date,
                r.period_from,
                r.period_to,
                r.lines.water_m3,
                r.lines.water_price,
                r.lines.water_net,
                r.lines.sewage_m3,
                r.lines.sewage_price,
                r.lines.sewage_net,
                r.lines.subscription_net,
                r.lines.vat_rate,
                r.net,
                r.vat,
                r.gross,
                r.ksef_number,
                r.ksef_hash,
                r.corrects,
                "e-mail" if r.client_number in e_mail else "paper",
                e_mail.get(r.client_number),
                source,
                *buyers[r.client_number],
            )
            for r in rows
        ],
    )


async def mark_corrected(conn: Conn, invoice_numbers: Sequence[str]) -> None:
    await conn.execute(
        "UPDATE invoices SET corrected = true WHERE invoice_number = ANY($1::text[])",
        list(invoice_numbers),
    )


AllocationRow = tuple[str, int, str, str | None, Decimal]  # payment, seq, invoice, note, amount


async def insert_payments(
    conn: Conn,
    rows: Sequence[PaymentRow],
    overpaid: dict[str, Decimal],
    allocations: Sequence[AllocationRow],
) -> None:
    """Insert payments and their allocations; add what each debt got to its amount paid."""
    await conn.copy_records_to_table(
        "payments",
        columns=[
            "payment_id",
            "client_number",
            "invoice_number",
            "note_number",
            "paid_on",
            "amount",
            "overpaid",
        ],
        records=[
            (
                r.payment_id,
                r.client_number,
                r.invoice_number,
                r.note_number,
                r.paid_on,
                r.amount,
                overpaid[r.payment_id],
            )
            for r in rows
        ],
    )
    await conn.copy_records_to_table(
        "payment_allocations",
        columns=["payment_id", "seq", "invoice_number", "note_number", "amount"],
        records=allocations,
    )
    principal = [a for a in allocations if a[3] is None]
    await conn.execute(
        """UPDATE invoices i SET amount_paid = i.amount_paid + s.paid
           FROM (SELECT invoice_number, sum(amount) AS paid
                 FROM unnest($1::text[], $2::numeric[]) AS p(invoice_number, amount)
                 GROUP BY invoice_number) s
           WHERE i.invoice_number = s.invoice_number""",
        [a[2] for a in principal],
        [a[4] for a in principal],
    )
    notes = [a for a in allocations if a[3] is not None]
    if notes:
        await conn.execute(
            """UPDATE interest_notes n SET amount_paid = n.amount_paid + s.paid
               FROM (SELECT note_number, sum(amount) AS paid
                     FROM unnest($1::text[], $2::numeric[]) AS p(note_number, amount)
                     GROUP BY note_number) s
               WHERE n.note_number = s.note_number""",
            [a[3] for a in notes],
            [a[4] for a in notes],
        )


async def invoice_roots(conn: Conn, invoice_numbers: Sequence[str]) -> dict[str, str]:
    """Each invoice's settlement root: the original a correction corrects, or itself."""
    rows = await conn.fetch(
        "SELECT invoice_number, coalesce(corrects, invoice_number) AS root FROM invoices"
        " WHERE invoice_number = ANY($1::text[])",
        list(invoice_numbers),
    )
    return {r["invoice_number"]: r["root"] for r in rows}


async def open_debts(
    conn: Conn, client_numbers: Sequence[str], roots: Sequence[str], notes: Sequence[str]
) -> tuple[list[Record], list[Record]]:
    """The clients' unpaid invoices (as settlements: originals with their corrections) and
    unpaid interest notes, plus the named ``roots`` and ``notes`` whether paid or not."""
    invoices = await conn.fetch(
        """SELECT r.invoice_number, r.client_number, r.issue_date, r.due_date,
                  r.gross + coalesce(sum(c.gross), 0) AS total,
                  r.amount_paid + coalesce(sum(c.amount_paid), 0) AS paid
           FROM invoices r LEFT JOIN invoices c ON c.corrects = r.invoice_number
           WHERE r.corrects IS NULL
             AND (r.client_number = ANY($1::text[]) OR r.invoice_number = ANY($2::text[]))
           GROUP BY r.invoice_number
           HAVING r.invoice_number = ANY($2::text[])
               OR r.gross + coalesce(sum(c.gross), 0)
                  > r.amount_paid + coalesce(sum(c.amount_paid), 0)""",
        list(client_numbers),
        list(roots),
    )
    open_notes = await conn.fetch(
        """SELECT n.note_number, n.client_number, coalesce(i.corrects, i.invoice_number) AS root,
                  n.issue_date, n.payable_by, n.total, n.amount_paid
           FROM interest_notes n JOIN invoices i USING (invoice_number)
           WHERE (n.client_number = ANY($1::text[]) AND n.amount_paid < n.total)
              OR n.note_number = ANY($2::text[])""",
        list(client_numbers),
        list(notes),
    )
    return invoices, open_notes


async def latest_invoices(conn: Conn, client_numbers: Sequence[str]) -> dict[str, str]:
    rows = await conn.fetch(
        """SELECT DISTINCT ON (client_number) client_number, invoice_number FROM invoices
           WHERE client_number = ANY($1::text[])
           ORDER BY client_number, issue_date DESC, invoice_number DESC""",
        list(client_numbers),
    )
    return {r["client_number"]: r["invoice_number"] for r in rows}


async def invoice_states(conn: Conn, invoice_numbers: Sequence[str]) -> dict[str, Record]:
    rows = await conn.fetch(
        "SELECT invoice_number, gross, amount_paid, due_date, corrected FROM invoices"
        " WHERE invoice_number = ANY($1::text[])",
        list(invoice_numbers),
    )
    return {r["invoice_number"]: r for r in rows}


# -- settlements and interest notes ----------------------------------------------------

# What a payment paid of invoices' principal (allocations to notes are not principal).
_PRINCIPAL = """a.payment_id, a.invoice_number, p.paid_on, sum(a.amount) AS amount
    FROM payment_allocations a JOIN payments p USING (payment_id)"""


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
        f"""SELECT {_PRINCIPAL} WHERE a.note_number IS NULL
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


async def insert_notes(conn: Conn, notes: Sequence[dict[str, Any]]) -> None:
    await conn.executemany(
        f"INSERT INTO interest_notes ({', '.join(NOTE_COLUMNS)}) VALUES "
        f"({', '.join(f'${i}' for i in range(1, len(NOTE_COLUMNS) + 1))})",
        [tuple(n[c] for c in NOTE_COLUMNS) for n in notes],
    )


async def lock_invoice(conn: Conn, invoice_number: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT invoice_number, client_number, corrects FROM invoices"
        " WHERE invoice_number = $1 FOR UPDATE",
        invoice_number,
    )


async def on_demand_note(conn: Conn, invoice_number: str, interest_to: date) -> Record | None:
    return await conn.fetchrow(
        "SELECT * FROM interest_notes WHERE invoice_number = $1 AND interest_to = $2"
        " AND reason = 'on-demand'",
        invoice_number,
        interest_to,
    )


# -- customer views --------------------------------------------------------------------


async def client(conn: Conn, client_number: str) -> Record | None:
    return await conn.fetchrow("SELECT * FROM clients WHERE client_number = $1", client_number)


async def invoice_page(
    conn: Conn,
    client_number: str,
    today: date,
    *,
    date_from: date | None,
    date_to: date | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[int, list[Record]]:
    where = f"""i.client_number = $1
        AND ($3::date IS NULL OR i.issue_date >= $3)
        AND ($4::date IS NULL OR i.issue_date <= $4)
        AND ($5::text IS NULL OR {STATUS_SQL} = $5)"""
    rows = await conn.fetch(
        f"""SELECT {INVOICE_COLUMNS}, {STATUS_SQL} AS status, count(*) OVER () AS total
            FROM invoices i WHERE {where}
            ORDER BY i.issue_date DESC, i.invoice_number DESC
            LIMIT $6 OFFSET $7""",
        client_number,
        today,
        date_from,
        date_to,
        status,
        limit,
        offset,
    )
    if rows:
        return rows[0]["total"], rows
    if offset == 0:
        return 0, []
    total = await conn.fetchval(
        f"SELECT count(*) FROM invoices i WHERE {where}",
        client_number,
        today,
        date_from,
        date_to,
        status,
    )
    return total, []


async def invoice(conn: Conn, invoice_number: str, today: date) -> Record | None:
    return await conn.fetchrow(
        f"""SELECT {INVOICE_COLUMNS}, {STATUS_SQL} AS status FROM invoices i
            WHERE i.invoice_number = $1""",
        invoice_number,
        today,
    )


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


async def contract_of(conn: Conn, contract_number: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT * FROM contracts WHERE contract_number = $1", contract_number
    )


async def payments_of_invoice(conn: Conn, invoice_number: str) -> list[Record]:
    """What payments paid of this invoice's principal."""
    return await conn.fetch(
        f"""SELECT {_PRINCIPAL} WHERE a.note_number IS NULL AND a.invoice_number = $1
            GROUP BY a.payment_id, a.invoice_number, p.paid_on, p.posted_at
            ORDER BY p.paid_on, p.posted_at, a.payment_id""",
        invoice_number,
    )


async def corrections_of(conn: Conn, invoice_number: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT invoice_number FROM invoices WHERE corrects = $1 ORDER BY issue_date,"
        " invoice_number",
        invoice_number,
    )
    return [r["invoice_number"] for r in rows]


async def notes_of_invoice(conn: Conn, invoice_number: str) -> list[Record]:
    return await conn.fetch(
        "SELECT * FROM interest_notes WHERE invoice_number = $1 ORDER BY issue_date, note_number",
        invoice_number,
    )


async def balance_rows(
    conn: Conn, client_number: str
) -> tuple[list[Record], list[Record], list[Record], Decimal]:
    """Invoices, what payments paid of their principal, interest notes, and all money paid."""
    invoices = await conn.fetch(
        "SELECT invoice_number, gross, due_date, corrects FROM invoices WHERE client_number = $1",
        client_number,
    )
    payments = await conn.fetch(
        f"""SELECT {_PRINCIPAL} WHERE a.note_number IS NULL AND p.client_number = $1
            GROUP BY a.payment_id, a.invoice_number, p.paid_on, p.posted_at
            ORDER BY p.paid_on, p.posted_at, a.payment_id""",
        client_number,
    )
    notes = await conn.fetch(
        """SELECT note_number, invoice_number, issue_date, payable_by, amount,
                  compensation_pln, total, amount_paid, compensation_for, reason, interest_to
           FROM interest_notes WHERE client_number = $1 ORDER BY issue_date, note_number""",
        client_number,
    )
    paid = await conn.fetchval(
        "SELECT coalesce(sum(amount), 0) FROM payments WHERE client_number = $1", client_number
    )
    return invoices, payments, notes, paid


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


async def contracts_of(conn: Conn, client_number: str) -> list[Record]:
    return await conn.fetch(
        "SELECT * FROM contracts WHERE client_number = $1 ORDER BY concluded_on, contract_number",
        client_number,
    )


# -- reference rates -------------------------------------------------------------------


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


# -- e-invoice consents ----------------------------------------------------------------


async def consent(conn: Conn, client_number: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT * FROM e_invoice_consents WHERE client_number = $1", client_number
    )


async def pending_request(conn: Conn, client_number: str, now: datetime) -> Record | None:
    return await conn.fetchrow(
        """SELECT * FROM e_invoice_requests
           WHERE client_number = $1 AND closed_at IS NULL AND expires_at > $2
           ORDER BY requested_at DESC LIMIT 1""",
        client_number,
        now,
    )


async def supersede_requests(conn: Conn, client_number: str, now: datetime) -> None:
    await conn.execute(
        """UPDATE e_invoice_requests SET closed_at = $2, outcome = 'superseded'
           WHERE client_number = $1 AND closed_at IS NULL""",
        client_number,
        now,
    )


async def add_request(
    conn: Conn,
    token_hash: str,
    client_number: str,
    email: str,
    purpose: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO e_invoice_requests (token_hash, client_number, email, purpose,
               requested_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)""",
        token_hash,
        client_number,
        email,
        purpose,
        now,
        expires_at,
    )


async def take_request(conn: Conn, token_hash: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT * FROM e_invoice_requests WHERE token_hash = $1 FOR UPDATE", token_hash
    )


async def close_request(conn: Conn, token_hash: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE e_invoice_requests SET closed_at = $2, outcome = 'confirmed' WHERE token_hash = $1",
        token_hash,
        now,
    )


async def set_consent(
    conn: Conn, client_number: str, status: str, email: str | None, now: datetime
) -> None:
    await conn.execute(
        """INSERT INTO e_invoice_consents (client_number, status, email, changed_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (client_number) DO UPDATE
             SET status = EXCLUDED.status, email = EXCLUDED.email,
                 changed_at = EXCLUDED.changed_at""",
        client_number,
        status,
        email,
        now,
    )


async def add_history(
    conn: Conn,
    client_number: str,
    now: datetime,
    action: str,
    purpose: str | None,
    email: str | None,
    source: str,
) -> None:
    await conn.execute(
        """INSERT INTO e_invoice_history (client_number, at, action, purpose, email, source)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        client_number,
        now,
        action,
        purpose,
        email,
        source,
    )


async def history(conn: Conn, client_number: str, limit: int) -> list[Record]:
    return await conn.fetch(
        """SELECT at, action, purpose, email, source FROM e_invoice_history
           WHERE client_number = $1 ORDER BY at DESC, id DESC LIMIT $2""",
        client_number,
        limit,
    )


async def lock_client(conn: Conn, client_number: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT * FROM clients WHERE client_number = $1 FOR UPDATE", client_number
    )


# -- billing run -------------------------------------------------------------------------


async def tariffs(conn: Conn) -> list[Record]:
    return await conn.fetch("SELECT * FROM tariffs ORDER BY tariff_group, valid_from")


async def put_tariff(conn: Conn, t: Any) -> None:
    await conn.execute(
        """INSERT INTO tariffs (tariff_group, valid_from, water_price, sewage_price,
               subscription_fee, vat_rate) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (tariff_group, valid_from) DO UPDATE SET
               water_price = EXCLUDED.water_price, sewage_price = EXCLUDED.sewage_price,
               subscription_fee = EXCLUDED.subscription_fee, vat_rate = EXCLUDED.vat_rate""",
        t.tariff_group,
        t.valid_from,
        t.water_price,
        t.sewage_price,
        t.subscription_fee,
        t.vat_rate,
    )


async def tariff_on(conn: Conn, tariff_group: str, day: date) -> Record | None:
    return await conn.fetchrow(
        """SELECT * FROM tariffs WHERE tariff_group = $1 AND valid_from <= $2
           ORDER BY valid_from DESC LIMIT 1""",
        tariff_group,
        day,
    )


async def add_reading(conn: Conn, p: dict[str, Any], value: Decimal, read_on: date) -> bool:
    added = await conn.fetchval(
        """INSERT INTO meter_readings (reading_id, meter_serial, contract_number,
               client_number, value, read_on, kind)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING true""",
        uuid.UUID(p["reading_id"]),
        p["meter_serial"],
        p["contract_number"],
        p["client_number"],
        value,
        read_on,
        p["kind"],
    )
    return bool(added)


async def previous_reading(
    conn: Conn, meter_serial: str, before: date, reading_id: uuid.UUID
) -> Record | None:
    return await conn.fetchrow(
        """SELECT * FROM meter_readings WHERE meter_serial = $1 AND read_on <= $2
             AND reading_id <> $3
           ORDER BY read_on DESC, received_at DESC LIMIT 1""",
        meter_serial,
        before,
        reading_id,
    )


async def unbilled_garden_readings(conn: Conn, contract_number: str, upto: date) -> list[Record]:
    return await conn.fetch(
        """SELECT * FROM meter_readings WHERE contract_number = $1 AND kind = 'garden'
             AND invoice_number IS NULL AND read_on <= $2 ORDER BY meter_serial, read_on""",
        contract_number,
        upto,
    )


async def garden_before(
    conn: Conn, meter_serial: str, before: date, exclude: Sequence[uuid.UUID]
) -> Record | None:
    return await conn.fetchrow(
        """SELECT * FROM meter_readings WHERE meter_serial = $1 AND read_on <= $2
             AND NOT (reading_id = ANY($3::uuid[]))
           ORDER BY read_on DESC, received_at DESC LIMIT 1""",
        meter_serial,
        before,
        list(exclude),
    )


async def mark_billed(conn: Conn, reading_ids: Sequence[uuid.UUID], invoice_number: str) -> None:
    await conn.execute(
        "UPDATE meter_readings SET invoice_number = $2 WHERE reading_id = ANY($1::uuid[])",
        list(reading_ids),
        invoice_number,
    )


async def next_invoice_sequence(conn: Conn, client_number: str, prefix: str) -> int:
    """The next 4-digit sequence of invoices numbered ``prefix`` (client + YYMM)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", "invoice-seq:" + prefix)
    last = await conn.fetchval(
        "SELECT max(invoice_number) FROM invoices WHERE client_number = $1"
        " AND invoice_number LIKE $2 AND length(invoice_number) = $3",
        client_number,
        prefix + "%",
        len(prefix) + 4,
    )
    return int(last[len(prefix) :]) + 1 if last else 1


async def contract_client_kind(conn: Conn, contract_number: str) -> Record | None:
    return await conn.fetchrow(
        """SELECT k.*, c.kind, c.name AS client_name, c.street AS client_street,
                  c.postal_code AS client_postal_code, c.city AS client_city, c.nip
           FROM contracts k JOIN clients c USING (client_number)
           WHERE k.contract_number = $1""",
        contract_number,
    )


async def on_demand_charged_to(conn: Conn, invoice_numbers: Sequence[str]) -> dict[str, date]:
    """For each invoice, the last day an on-demand note already charged interest for."""
    rows = await conn.fetch(
        """SELECT invoice_number, max(interest_to) AS upto FROM interest_notes
           WHERE reason = 'on-demand' AND invoice_number = ANY($1::text[])
           GROUP BY invoice_number""",
        list(invoice_numbers),
    )
    return {r["invoice_number"]: r["upto"] for r in rows}
