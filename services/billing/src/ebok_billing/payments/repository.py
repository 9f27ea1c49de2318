"""Online payment orders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from ..common.connection import Conn, Record

_COLUMNS = """o.order_id, o.client_number, o.scope, o.invoice_numbers, o.note_numbers,
    o.amount, o.status, o.provider_order_id, o.redirect_uri, o.created_at, o.updated_at,
    o.paid_at, o.notifications,
    EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.order_id) AS booked"""


async def insert_order(
    conn: Conn,
    order_id: uuid.UUID,
    client_number: str,
    scope: str,
    invoices: Sequence[str],
    notes: Sequence[str],
    amount: Decimal,
    now: datetime,
) -> bool:
    """False when the client already has an open order (the partial unique index)."""
    row = await conn.fetchrow(
        """INSERT INTO payment_orders (order_id, client_number, scope, invoice_numbers,
               note_numbers, amount, status, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, 'started', $7, $7)
           ON CONFLICT (client_number) WHERE status IN ('started', 'pending') DO NOTHING
           RETURNING order_id""",
        order_id,
        client_number,
        scope,
        list(invoices),
        list(notes),
        amount,
        now,
    )
    return row is not None


async def open_order(conn: Conn, client_number: str) -> Record | None:
    return await conn.fetchrow(
        f"""SELECT {_COLUMNS} FROM payment_orders o
            WHERE o.client_number = $1 AND o.status IN ('started', 'pending')""",
        client_number,
    )


async def order(conn: Conn, order_id: uuid.UUID, *, lock: bool = False) -> Record | None:
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM payment_orders o WHERE o.order_id = $1"
        + (" FOR UPDATE OF o" if lock else ""),
        order_id,
    )


async def set_registered(
    conn: Conn, order_id: uuid.UUID, provider_order_id: str, redirect_uri: str, now: datetime
) -> None:
    # The provider's PENDING notification may come before its answer to the registration
    # and move the order on already: the ids are kept all the same (the customer is sent to
    # the address, the status check asks by the provider's id); the status only moves on.
    await conn.execute(
        """UPDATE payment_orders SET provider_order_id = $2, redirect_uri = $3,
               status = CASE WHEN status = 'started' THEN 'pending' ELSE status END,
               updated_at = $4
           WHERE order_id = $1 AND provider_order_id IS NULL""",
        order_id,
        provider_order_id,
        redirect_uri,
        now,
    )


async def set_status(conn: Conn, order_id: uuid.UUID, status: str, now: datetime) -> None:
    await conn.execute(
        """UPDATE payment_orders SET status = $2, updated_at = $3,
               paid_at = CASE WHEN $2 = 'paid' THEN $3 ELSE paid_at END
           WHERE order_id = $1""",
        order_id,
        status,
        now,
    )


async def count_notification(conn: Conn, order_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE payment_orders SET notifications = notifications + 1 WHERE order_id = $1",
        order_id,
    )


async def orders_of(
    conn: Conn, client_number: str, limit: int, offset: int
) -> tuple[int, list[Record]]:
    total = await conn.fetchval(
        "SELECT count(*) FROM payment_orders WHERE client_number = $1", client_number
    )
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM payment_orders o WHERE o.client_number = $1
            ORDER BY o.created_at DESC, o.order_id LIMIT $2 OFFSET $3""",
        client_number,
        limit,
        offset,
    )
    return int(total or 0), rows


async def paid_unbooked(conn: Conn, client_number: str) -> list[Record]:
    """Paid orders the back office has not posted yet (payments being booked)."""
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM payment_orders o
            WHERE o.client_number = $1 AND o.status = 'paid'
              AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.order_id)
            ORDER BY o.paid_at""",
        client_number,
    )


async def client_email(conn: Conn, client_number: str) -> str | None:
    value = await conn.fetchval("SELECT email FROM clients WHERE client_number = $1", client_number)
    return value if isinstance(value, str) else None


async def paid_not_posted(conn: Conn, paid_before: datetime, limit: int) -> list[Record]:
    """Orders paid before ``paid_before`` that the back office has still not posted."""
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM payment_orders o
            WHERE o.status = 'paid' AND o.paid_at < $1
              AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.order_id)
            ORDER BY o.paid_at LIMIT $2""",
        paid_before,
        limit,
    )


async def posted_without_order(conn: Conn, limit: int) -> list[Record]:
    """Payments the back office posted as online ones (an order's id as ``payment_id``)
    that book no order of ours (none by that id, or another client's)."""
    return await conn.fetch(
        """SELECT p.payment_id, p.client_number, p.invoice_number, p.paid_on, p.amount, p.title
           FROM payments p
           WHERE p.payment_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
             AND p.order_id IS NULL
           ORDER BY p.paid_on, p.payment_id LIMIT $1""",
        limit,
    )


async def title_unmatched(conn: Conn, limit: int) -> list[Record]:
    """Transfers whose title named nothing of their client's we could match."""
    return await conn.fetch(
        """SELECT p.payment_id, p.client_number, p.invoice_number, p.paid_on, p.amount, p.title
           FROM payments p WHERE p.title_unmatched
           ORDER BY p.paid_on, p.payment_id LIMIT $1""",
        limit,
    )


async def orders_to_book(conn: Conn, order_ids: Sequence[uuid.UUID]) -> list[Record]:
    """The named orders with what they pay, for matching payments to them; ``booked``: a
    payment already books the order."""
    return await conn.fetch(
        f"SELECT {_COLUMNS} FROM payment_orders o WHERE o.order_id = ANY($1::uuid[])",
        list(order_ids),
    )


async def claim_overdue(conn: Conn, created_before: datetime) -> Record | None:
    """One open order created before ``created_before``, locked for this transaction; one
    another transaction holds is skipped (another replica is settling it)."""
    return await conn.fetchrow(
        f"""SELECT {_COLUMNS} FROM payment_orders o
            WHERE o.status IN ('started', 'pending') AND o.created_at < $1
            ORDER BY o.created_at LIMIT 1 FOR UPDATE OF o SKIP LOCKED""",
        created_before,
    )
