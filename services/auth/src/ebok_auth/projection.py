"""auth's projection of billing's clients, fed by billing's events (no call to billing at
registration), and the contract-end block of terms II.7 scheduled from it.

Events of different contracts may arrive in any order, so each handler is an upsert and the
"no active contract left" decision needs both billing's count and our own projection.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import asyncpg
from ebok_shared.bus import Event, Subscription
from ebok_shared.clock import clock

from . import accounts, audit, events
from .domain import block_date


class Projection:
    def __init__(self, grace_days: int) -> None:
        self.grace_days = grace_days

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription("billing.client.upserted", self.client_upserted),
            Subscription("billing.contract.concluded", self.contract_concluded),
            Subscription("billing.contract.terminated", self.contract_terminated),
            Subscription("billing.invoice.issued", self.invoice_issued),
        ]

    async def client_upserted(self, conn: asyncpg.Connection, event: Event) -> None:
        p = event.payload
        await conn.execute(
            "INSERT INTO clients (client_number, email, updated_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (client_number) DO UPDATE SET email = $2, updated_at = $3",
            p["client_number"],
            p["email"],
            clock.now(),
        )

    async def invoice_issued(self, conn: asyncpg.Connection, event: Event) -> None:
        p = event.payload
        await conn.execute(
            "INSERT INTO invoices (invoice_number, client_number, gross) VALUES ($1, $2, $3)"
            " ON CONFLICT (invoice_number) DO UPDATE SET client_number = $2, gross = $3",
            p["invoice_number"],
            p["client_number"],
            Decimal(p["gross"]),
        )

    async def contract_concluded(self, conn: asyncpg.Connection, event: Event) -> None:
        p = event.payload
        client = p["client_number"]
        await conn.execute(
            "INSERT INTO contracts (contract_number, client_number, concluded_on)"
            " VALUES ($1, $2, $3) ON CONFLICT (contract_number) DO UPDATE SET concluded_on = $3",
            p["contract_number"],
            client,
            dt.date.fromisoformat(p["concluded_on"]),
        )
        if not await self._has_active_contract(conn, client):
            return  # this contract's termination arrived first
        # A new contract before the block cancels it; after a contract-end block, lifts it.
        cancelled = await conn.fetchval(
            "DELETE FROM scheduled_blocks WHERE client_number = $1 RETURNING block_on", client
        )
        account = await accounts.get(conn, client)
        if account is None or account["status"] == "pending":
            return
        if cancelled is not None and account["status"] == "active":
            # Audited only: no consumer takes a "cancelled" event yet, and the relay publishes
            # mandatory (an unrouted event would hold the outbox back).
            await audit.record(
                conn,
                "account.block_cancelled",
                actor="system",
                subject=client,
                contract_number=p["contract_number"],
            )
        if account["status"] == "blocked" and account["blocked_by"] == accounts.SYSTEM_CONTRACT_END:
            await accounts.unblock(conn, client, reason="Zawarto nową umowę.", by="system")

    async def contract_terminated(self, conn: asyncpg.Connection, event: Event) -> None:
        p = event.payload
        client = p["client_number"]
        terminated_on = dt.date.fromisoformat(p["terminated_on"])
        await conn.execute(
            "INSERT INTO contracts (contract_number, client_number, terminated_on)"
            " VALUES ($1, $2, $3) ON CONFLICT (contract_number) DO UPDATE SET terminated_on = $3",
            p["contract_number"],
            client,
            terminated_on,
        )
        if p["active_contracts_left"] > 0 or await self._has_active_contract(conn, client):
            return
        block_on = block_date(terminated_on, self.grace_days)
        await conn.execute(
            "INSERT INTO scheduled_blocks (client_number, terminated_on, block_on, created_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (client_number) DO UPDATE"
            " SET terminated_on = $2, block_on = $3",
            client,
            terminated_on,
            block_on,
            clock.now(),
        )
        account = await accounts.get(conn, client)
        if account is not None and account["status"] == "active":
            await events.publish(
                conn,
                events.BLOCK_SCHEDULED,
                {
                    "client_number": client,
                    "email": account["email"],
                    "block_on": block_on.isoformat(),
                },
                key=client,
            )
            await audit.record(
                conn,
                "account.block_scheduled",
                actor="system",
                subject=client,
                block_on=block_on.isoformat(),
            )

    @staticmethod
    async def _has_active_contract(conn: asyncpg.Connection, client: str) -> bool:
        return bool(
            await conn.fetchval(
                "SELECT true FROM contracts WHERE client_number = $1 AND terminated_on IS NULL"
                " AND concluded_on IS NOT NULL LIMIT 1",
                client,
            )
        )


async def may_register(conn: asyncpg.Connection, client: str, invoice: str, gross: Decimal) -> bool:
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
            clock.today(),
        )
    )
