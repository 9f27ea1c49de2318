"""auth's projection of billing's clients, contracts and invoices, and the contract-end
blocks scheduled from it (tables ``clients``, ``contracts``, ``invoices``,
``scheduled_blocks``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import asyncpg

from . import Conn


async def upsert_client(conn: Conn, client: str, email: str, now: dt.datetime) -> None:
    await conn.execute(
        "INSERT INTO clients (client_number, email, updated_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (client_number) DO UPDATE SET email = $2, updated_at = $3",
        client,
        email,
        now,
    )


async def upsert_invoice(conn: Conn, invoice: str, client: str, gross: Decimal) -> None:
    await conn.execute(
        "INSERT INTO invoices (invoice_number, client_number, gross) VALUES ($1, $2, $3)"
        " ON CONFLICT (invoice_number) DO UPDATE SET client_number = $2, gross = $3",
        invoice,
        client,
        gross,
    )


async def contract_concluded(conn: Conn, contract: str, client: str, on: dt.date) -> None:
    await conn.execute(
        "INSERT INTO contracts (contract_number, client_number, concluded_on)"
        " VALUES ($1, $2, $3) ON CONFLICT (contract_number) DO UPDATE SET concluded_on = $3",
        contract,
        client,
        on,
    )


async def contract_terminated(conn: Conn, contract: str, client: str, on: dt.date) -> None:
    await conn.execute(
        "INSERT INTO contracts (contract_number, client_number, terminated_on)"
        " VALUES ($1, $2, $3) ON CONFLICT (contract_number) DO UPDATE SET terminated_on = $3",
        contract,
        client,
        on,
    )


async def has_active_contract(conn: Conn, client: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM contracts WHERE client_number = $1 AND terminated_on IS NULL"
            " AND concluded_on IS NOT NULL LIMIT 1",
            client,
        )
    )


async def may_register(
    conn: Conn, client: str, invoice: str, gross: Decimal, today: dt.date
) -> bool:
    """The proof of registration: the client is known, the invoice is theirs, its gross amount
    matches, and they have an active contract (a contract ending in the future is still active)."""
    return bool(
        await conn.fetchval(
            """SELECT true FROM invoices i
           WHERE i.invoice_number = $2 AND i.client_number = $1 AND i.gross = $3
             AND EXISTS (SELECT 1 FROM clients WHERE client_number = $1)
             AND EXISTS (SELECT 1 FROM contracts c WHERE c.client_number = $1
                         AND c.concluded_on IS NOT NULL
                         AND (c.terminated_on IS NULL OR c.terminated_on >= $4))""",
            client,
            invoice,
            gross,
            today,
        )
    )


# -- contract-end blocks (terms II.7) ------------------------------------------------------


async def schedule_block(
    conn: Conn, client: str, terminated_on: dt.date, block_on: dt.date, now: dt.datetime
) -> None:
    await conn.execute(
        "INSERT INTO scheduled_blocks (client_number, terminated_on, block_on, created_at)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (client_number) DO UPDATE"
        " SET terminated_on = $2, block_on = $3",
        client,
        terminated_on,
        block_on,
        now,
    )


async def cancel_block(conn: Conn, client: str) -> dt.date | None:
    """The scheduled block removed: the day it was due, or None if there was none."""
    return await conn.fetchval(
        "DELETE FROM scheduled_blocks WHERE client_number = $1 RETURNING block_on", client
    )


async def block_date(conn: Conn, client: str) -> dt.date | None:
    """The day the account is to be blocked (its last contract ended), or None."""
    return await conn.fetchval(
        "SELECT block_on FROM scheduled_blocks WHERE client_number = $1", client
    )


async def due_blocks(conn: Conn, today: dt.date, limit: int) -> list[str]:
    """Claimed for this transaction (other replicas skip them)."""
    rows = await conn.fetch(
        "SELECT client_number FROM scheduled_blocks WHERE block_on <= $1"
        " ORDER BY block_on LIMIT $2 FOR UPDATE SKIP LOCKED",
        today,
        limit,
    )
    return [r["client_number"] for r in rows]


async def delete_blocks(conn: Conn, clients: list[str]) -> None:
    await conn.execute(
        "DELETE FROM scheduled_blocks WHERE client_number = ANY($1::text[])", clients
    )


# -- a data export ---------------------------------------------------------------------------


async def email_of_record(conn: Conn, client: str) -> str | None:
    return await conn.fetchval("SELECT email FROM clients WHERE client_number = $1", client)


async def contracts_of(conn: Conn, client: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT contract_number, concluded_on, terminated_on FROM contracts"
        " WHERE client_number = $1 ORDER BY contract_number",
        client,
    )


async def invoice_numbers(conn: Conn, client: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT invoice_number FROM invoices WHERE client_number = $1 ORDER BY invoice_number",
        client,
    )
    return [r["invoice_number"] for r in rows]
