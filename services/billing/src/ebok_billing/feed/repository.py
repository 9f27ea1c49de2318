"""Feed batches: the advisory locks a batch holds and what the database already holds of
the keys it names (the batches as recorded are the shared feed's: ``ebok_shared.feed``)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from ..common.connection import Conn, Record

# Feed batches about the same clients go one at a time; about different clients, side by side.
# Each batch holds the advisory locks (FEED_LOCK, bucket) of its clients' buckets and of the
# contract numbers it creates (unique across clients), taken in order (no deadlock).
FEED_LOCK = 0x0EB0C


FEED_BUCKETS = 64


async def lock_feed(conn: Conn, clients: Sequence[str], new_contracts: Sequence[str]) -> None:
    buckets = {int(c) % FEED_BUCKETS for c in clients if c.isdigit()}
    buckets.update(zlib.crc32(c.encode()) % FEED_BUCKETS for c in new_contracts)
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1, bucket) FROM unnest($2::int[]) AS bucket",
        FEED_LOCK,
        sorted(buckets),
    )


@dataclass(frozen=True)
class KnownRows:
    """The rows the database holds for the keys a batch names."""

    clients: list[Record]
    contracts: list[Record]
    invoices: list[Record]  # the columns a feed invoice states, in its field order
    payments: list[Record]
    notes: list[Record]


async def known_rows(
    conn: Conn,
    *,
    clients: Sequence[str],
    contracts: Sequence[str],
    invoices: Sequence[str],
    payments: Sequence[str],
    notes: Sequence[str],
) -> KnownRows:
    return KnownRows(
        clients=await conn.fetch(
            "SELECT * FROM clients WHERE client_number = ANY($1::text[])", list(clients)
        ),
        contracts=await conn.fetch(
            "SELECT * FROM contracts WHERE contract_number = ANY($1::text[])", list(contracts)
        ),
        invoices=await conn.fetch(
            """SELECT invoice_number, client_number, contract_number, issue_date, due_date,
                      period_from, period_to, water_m3, water_price, sewage_m3, sewage_price,
                      subscription_net, vat_rate, net, vat, gross, ksef_number, ksef_hash,
                      corrects
               FROM invoices WHERE invoice_number = ANY($1::text[])""",
            list(invoices),
        ),
        payments=await conn.fetch(
            "SELECT payment_id, client_number, invoice_number, paid_on, amount, note_number,"
            " title"
            " FROM payments WHERE payment_id = ANY($1::text[])",
            list(payments),
        ),
        notes=await conn.fetch(
            "SELECT note_number, client_number FROM interest_notes"
            " WHERE note_number = ANY($1::text[])",
            list(notes),
        ),
    )
