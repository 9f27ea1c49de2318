"""The ledger: invoices, payments and their allocations to debts."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import orjson

from ..clients.domain import Buyer
from ..common.connection import Conn, Record
from .domain import InvoiceData, PaymentData


def status_sql(today: str) -> str:
    """The rule of domain.invoice_status, in SQL, so the list can filter and page by it;
    ``today``: the statement's parameter holding today's date (e.g. "$2")."""
    return f"""CASE WHEN i.corrected THEN 'corrected'
     WHEN i.amount_paid >= i.gross THEN 'paid'
     WHEN i.due_date < {today} THEN 'overdue'
     WHEN i.amount_paid > 0 THEN 'partly_paid'
     ELSE 'unpaid' END"""


STATUS_SQL = status_sql("$2")  # with today as the statement's second parameter


INVOICE_COLUMNS = """i.invoice_number, i.client_number, i.contract_number, i.issue_date,
    i.due_date, i.period_from, i.period_to, i.water_m3, i.water_price, i.water_net,
    i.sewage_m3, i.sewage_price, i.sewage_net, i.subscription_net, i.vat_rate, i.net, i.vat,
    i.gross, i.amount_paid, i.ksef_number, i.ksef_hash, i.corrects, i.corrected, i.delivery,
    i.e_invoice_email, i.source"""

# What an invoice list shows of each (views.invoice_list_item): the columns the list decodes
# on every customer's first view, not the lines and buyer a copy or an export needs. The
# amounts come as the text the answer carries: a numeric(14, 2) prints with its two decimals,
# as ``money.amount`` gives them, so the list neither decodes them into Decimals nor formats
# them again (that was a third of the list's own CPU). ``outstanding`` is the rule of
# ``views.invoice_item`` (a corrected invoice owes nothing of its own; never below zero).
LIST_COLUMNS = """i.invoice_number, i.issue_date, i.due_date, i.period_from, i.period_to,
    i.net::text AS net, i.vat::text AS vat, i.gross::text AS gross,
    i.amount_paid::text AS amount_paid,
    (CASE WHEN i.corrected THEN 0.00 ELSE greatest(i.gross - i.amount_paid, 0.00) END)::text
      AS outstanding,
    i.ksef_number, i.corrects, i.corrected, i.delivery"""


# What a payment paid of invoices' principal (allocations to notes are not principal).
PRINCIPAL = """a.payment_id, a.invoice_number, p.paid_on, sum(a.amount) AS amount
    FROM payment_allocations a JOIN payments p USING (payment_id)"""


async def insert_invoices(
    conn: Conn,
    rows: Sequence[InvoiceData],
    e_mail: dict[str, str],
    source: str,
    buyers: Mapping[str, Buyer],
) -> None:
    """Insert invoices with their buyer's data as it is on the day they are issued
    (``buyers``: by client number); ``e_mail``: the clients whose invoices go by e-mail."""
    buyer_columns = {
        number: (b.name, b.street, b.postal_code, b.city, b.nip) for number, b in buyers.items()
    }
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
                *buyer_columns[r.client_number],
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
    rows: Sequence[PaymentData],
    overpaid: dict[str, Decimal],
    allocations: Sequence[AllocationRow],
    orders: Mapping[str, uuid.UUID] | None = None,
    title_unmatched: Collection[str] = (),
) -> None:
    """Insert payments and their allocations; add what each debt got to its amount paid.
    ``orders``: the online payment order each payment books; ``title_unmatched``: the
    payments whose title named nothing to match."""
    orders = orders or {}
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
            "title",
            "order_id",
            "title_unmatched",
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
                r.title,
                orders.get(r.payment_id),
                r.payment_id in title_unmatched,
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


async def lock_invoice(conn: Conn, invoice_number: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT invoice_number, client_number, corrects FROM invoices"
        " WHERE invoice_number = $1 FOR UPDATE",
        invoice_number,
    )


class _Parameters:
    """A statement's parameters as it is written: each value given its ``$n``."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def _page_where(
    p: _Parameters,
    client_number: str,
    today: Callable[[], str],
    date_from: date | None,
    date_to: date | None,
    status: str | None,
    hidden: list[str],
) -> str:
    """The conditions of a page of the client's invoices, with only the filters asked for.

    Written out, not as ``($3::date IS NULL OR …)`` for every filter: a statement with those
    was planned anew on each execution (PostgreSQL kept custom plans for it, 0.05 ms of
    planning per request against 0.04 ms of execution), while the few statements of the
    filters actually used get a generic plan each, kept in asyncpg's statement cache."""
    where = [
        f"i.client_number = {p(client_number)}",
        f"i.invoice_number <> ALL({p(hidden)}::text[])",
    ]
    if date_from is not None:
        where.append(f"i.issue_date >= {p(date_from)}::date")
    if date_to is not None:
        where.append(f"i.issue_date <= {p(date_to)}::date")
    if status is not None:
        where.append(f"{status_sql(today())} = {p(status)}::text")
    return " AND ".join(where)


async def invoice_page(
    conn: Conn,
    client_number: str,
    today: date,
    *,
    date_from: date | None,
    date_to: date | None,
    status: str | None,
    hidden: list[str],
    limit: int,
    offset: int,
    columns: str = INVOICE_COLUMNS,
) -> tuple[int, list[Record]]:
    """A page of the client's invoices and how many there are; ``columns``: which of the
    invoice's (``LIST_COLUMNS`` for a list)."""
    p = _Parameters()
    today_param = p(today)
    where = _page_where(p, client_number, lambda: today_param, date_from, date_to, status, hidden)
    rows = await conn.fetch(
        f"""SELECT {columns}, {status_sql(today_param)} AS status, count(*) OVER () AS total
            FROM invoices i WHERE {where}
            ORDER BY i.issue_date DESC, i.invoice_number DESC
            LIMIT {p(limit)} OFFSET {p(offset)}""",
        *p.values,
    )
    if rows:
        return rows[0]["total"], rows
    if offset == 0:
        return 0, []
    counted = _Parameters()
    where = _page_where(
        counted, client_number, lambda: counted(today), date_from, date_to, status, hidden
    )
    total = await conn.fetchval(f"SELECT count(*) FROM invoices i WHERE {where}", *counted.values)
    return total, []


async def invoice(conn: Conn, invoice_number: str, today: date) -> Record | None:
    return await conn.fetchrow(
        f"""SELECT {INVOICE_COLUMNS}, {STATUS_SQL} AS status FROM invoices i
            WHERE i.invoice_number = $1""",
        invoice_number,
        today,
    )


async def payments_of_invoice(conn: Conn, invoice_number: str) -> list[Record]:
    """What payments paid of this invoice's principal."""
    return await conn.fetch(
        f"""SELECT {PRINCIPAL} WHERE a.note_number IS NULL AND a.invoice_number = $1
            GROUP BY a.payment_id, a.invoice_number, p.paid_on, p.posted_at
            ORDER BY p.paid_on, p.posted_at, a.payment_id""",
        invoice_number,
    )


async def payments_of_client(conn: Conn, client_number: str) -> list[Record]:
    """Every payment of the client with what it paid (art. 451 KC allocation), in order."""
    return await conn.fetch(
        """SELECT p.payment_id, p.invoice_number, p.paid_on, p.amount, p.posted_at,
                  coalesce(json_agg(json_build_object(
                      'invoice_number', a.invoice_number, 'note_number', a.note_number,
                      'amount', a.amount::text) ORDER BY a.seq)
                    FILTER (WHERE a.payment_id IS NOT NULL), '[]') AS allocations
           FROM payments p LEFT JOIN payment_allocations a USING (payment_id)
           WHERE p.client_number = $1
           GROUP BY p.payment_id ORDER BY p.paid_on, p.posted_at, p.payment_id""",
        client_number,
    )


async def corrections_of(conn: Conn, invoice_number: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT invoice_number FROM invoices WHERE corrects = $1 ORDER BY issue_date,"
        " invoice_number",
        invoice_number,
    )
    return [r["invoice_number"] for r in rows]


@dataclass(frozen=True)
class BalanceFacts:
    """All a balance is computed from, read in one statement (one snapshot, one round trip):
    the client's kind, their invoices, what payments paid of the principal, their interest
    notes, all money they paid, and the two rate tables — each list of plain tuples in the
    order of ``_BALANCE_SQL``'s lists, amounts as Decimals and days as dates."""

    kind: str
    invoices: list[tuple[Any, ...]]  # invoice_number, gross, due_date, corrects
    principal: list[tuple[Any, ...]]  # invoice_number, paid_on, amount
    # note_number, invoice_number, issue_date, payable_by, total, amount_paid,
    # compensation_for, compensation_pln, reason, interest_to
    notes: list[tuple[Any, ...]]
    paid: Decimal
    rates: list[tuple[Any, ...]]  # effective_from, reference_rate_percent
    eur_rates: list[tuple[Any, ...]]  # rate_date, eur_pln, table_number


# The statement gives one JSON document, not arrays of records: asyncpg decodes an array of
# anonymous records element by element and field by field (about as much CPU as the rest of
# the answer), orjson reads the document in a few microseconds. Amounts travel as the text
# of their numeric (``::text``: exact, with their scale, never a JSON number, which a reader
# could take for a float), days as JSON gives them (ISO 8601 whatever the DateStyle).
#
# What payments paid of the principal is read from the client's payments, each one's
# allocations by the primary key (LATERAL, grouped inside: the planner keeps it a nested
# loop). Joined the plain way, the planner hashed every principal allocation of every client
# on each request (0.27 ms of the statement's 0.37 ms with 200 clients, growing with them).
_BALANCE_SQL = """SELECT json_build_array(
    c.kind,
    (SELECT coalesce(json_agg(json_build_array(invoice_number, gross::text, due_date, corrects)),
                     '[]')
       FROM invoices WHERE client_number = $1),
    (SELECT coalesce(json_agg(json_build_array(a.invoice_number, p.paid_on, a.amount::text)
                              ORDER BY p.paid_on, p.posted_at, p.payment_id, a.invoice_number),
                     '[]')
       FROM payments p,
            LATERAL (SELECT invoice_number, sum(amount) AS amount FROM payment_allocations
                      WHERE payment_id = p.payment_id AND note_number IS NULL
                      GROUP BY invoice_number) a
      WHERE p.client_number = $1),
    (SELECT coalesce(json_agg(json_build_array(note_number, invoice_number, issue_date,
                                               payable_by, total::text, amount_paid::text,
                                               compensation_for, compensation_pln::text, reason,
                                               interest_to)
                              ORDER BY issue_date, note_number),
                     '[]')
       FROM interest_notes WHERE client_number = $1),
    (SELECT coalesce(sum(amount), 0)::text FROM payments WHERE client_number = $1),
    (SELECT coalesce(json_agg(json_build_array(effective_from, reference_rate_percent::text)
                              ORDER BY effective_from),
                     '[]')
       FROM reference_rates),
    (SELECT coalesce(json_agg(json_build_array(rate_date, eur_pln::text, table_number)
                              ORDER BY rate_date),
                     '[]')
       FROM eur_rates))::text
    FROM clients c WHERE c.client_number = $1"""

_day = date.fromisoformat


def _day_or_none(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _amount_or_none(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


async def balance_facts(conn: Conn, client_number: str) -> BalanceFacts | None:
    """What ``balance`` needs (None: no such client), in one statement."""
    text = await conn.fetchval(_BALANCE_SQL, client_number)
    if text is None:
        return None
    kind, invoices, principal, notes, paid, rates, eur_rates = orjson.loads(text)
    return BalanceFacts(
        kind=kind,
        invoices=[(n, Decimal(g), _day(d), c) for n, g, d, c in invoices],
        principal=[(n, _day(d), Decimal(a)) for n, d, a in principal],
        notes=[
            (
                number,
                invoice,
                _day(issued),
                _day(payable_by),
                Decimal(total),
                Decimal(amount_paid),
                compensation_for,
                _amount_or_none(compensation_pln),
                reason,
                _day_or_none(interest_to),
            )
            for (
                number,
                invoice,
                issued,
                payable_by,
                total,
                amount_paid,
                compensation_for,
                compensation_pln,
                reason,
                interest_to,
            ) in notes
        ],
        paid=Decimal(paid),
        rates=[(_day(d), Decimal(r)) for d, r in rates],
        eur_rates=[(_day(d), Decimal(r), t) for d, r, t in eur_rates],
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
