"""auth's projection of billing's clients (fed by billing's events: no call to billing at
registration), and the contract-end block of terms II.7 scheduled from it.

Events of different contracts may arrive in any order, so each handler is an upsert and the
"no active contract left" decision needs both billing's count and our own projection.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import asyncpg
from ebok_shared.bus import Event
from ebok_shared.clock import clock

from .. import events
from ..domain import SYSTEM_CONTRACT_END, block_date
from ..repository import accounts, audit
from ..repository import projection as repo
from .accounts import unblock


async def client_upserted(conn: asyncpg.Connection, event: Event) -> None:
    p = event.payload
    await repo.upsert_client(conn, p["client_number"], p["email"], clock.now())


async def invoice_issued(conn: asyncpg.Connection, event: Event) -> None:
    p = event.payload
    await repo.upsert_invoice(conn, p["invoice_number"], p["client_number"], Decimal(p["gross"]))


async def contract_concluded(conn: asyncpg.Connection, event: Event) -> None:
    p = event.payload
    client = p["client_number"]
    concluded_on = dt.date.fromisoformat(p["concluded_on"])
    await repo.contract_concluded(conn, p["contract_number"], client, concluded_on)
    if not await repo.has_active_contract(conn, client):
        return  # this contract's termination arrived first
    # A new contract before the block cancels it; after a contract-end block, lifts it.
    cancelled = await repo.cancel_block(conn, client)
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
    if account["status"] == "blocked" and account["blocked_by"] == SYSTEM_CONTRACT_END:
        await unblock(conn, client, reason="Zawarto nową umowę.", by="system")


async def contract_terminated(conn: asyncpg.Connection, event: Event, *, grace_days: int) -> None:
    p = event.payload
    client = p["client_number"]
    terminated_on = dt.date.fromisoformat(p["terminated_on"])
    await repo.contract_terminated(conn, p["contract_number"], client, terminated_on)
    if p["active_contracts_left"] > 0 or await repo.has_active_contract(conn, client):
        return
    block_on = block_date(terminated_on, grace_days)
    await repo.schedule_block(conn, client, terminated_on, block_on, clock.now())
    account = await accounts.get(conn, client)
    if account is not None and account["status"] == "active":
        await events.block_scheduled(conn, client, account["email"], block_on)
        await audit.record(
            conn,
            "account.block_scheduled",
            actor="system",
            subject=client,
            block_on=block_on.isoformat(),
        )
