"""What readings keeps about clients: their contracts as billing's events tell them, the end
of what an issued invoice billed, a deleted account's personal data, and the export.

The consumers run in the bus consumer's transaction (one per event); they publish nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import asyncpg
from ebok_shared.bus import Event
from ebok_shared.clock import clock

from ..common.connection import Record
from ..garden import repository as garden_repo
from ..meters import repository as meters_repo
from ..readings import repository as readings_repo
from . import repository as repo


async def contract_concluded(conn: asyncpg.Connection, event: Event) -> None:
    """A contract and the meters serving it (re-stated contracts update them)."""
    p = event.payload
    concluded_on = dt.date.fromisoformat(p["concluded_on"])
    await repo.upsert_contract(conn, p["contract_number"], p["client_number"], concluded_on)
    for serial in p["meter_serials"]:
        await meters_repo.attach_main_meter(conn, serial, p["contract_number"], concluded_on)


async def contract_terminated(conn: asyncpg.Connection, event: Event) -> None:
    p = event.payload
    await repo.terminate_contract(
        conn, p["contract_number"], p["client_number"], dt.date.fromisoformat(p["terminated_on"])
    )


async def invoice_issued(conn: asyncpg.Connection, event: Event) -> None:
    """Readings an invoice could have billed are final: a customer can no longer replace
    them by a second reading of the same day."""
    p = event.payload
    await readings_repo.mark_billed(
        conn, p["client_number"], dt.date.fromisoformat(p["issue_date"]), event.occurred_at
    )


async def account_deleted(conn: asyncpg.Connection, event: Event) -> None:
    """Unlink the person's data; readings stay (they are the utility's records)."""
    await repo.unlink_client(conn, event.payload["client_number"], clock.now())


@dataclass(frozen=True)
class Export:
    """This service's part of a customer's data export."""

    contracts: list[Record]
    meters: list[Record]
    readings: list[Record]
    requests: list[Record]
    history: dict[uuid.UUID, list[Record]]
    photos: list[Record]
    reminders: list[Record]


async def export(pool: asyncpg.Pool, client_number: str) -> Export:
    async with pool.acquire() as conn:
        _, requests = await garden_repo.requests_page(
            conn, client_number=client_number, status=None, limit=10_000, offset=0
        )
        return Export(
            contracts=await repo.client_contracts(conn, client_number),
            meters=await meters_repo.client_meters(conn, client_number),
            readings=await readings_repo.client_readings(conn, client_number),
            requests=requests,
            history=await garden_repo.histories(conn, [r["id"] for r in requests]),
            photos=await repo.client_photos(conn, client_number),
            reminders=await garden_repo.client_reminders(conn, client_number),
        )
