"""Garden-meter requests (a customer asks, an operator decides; accepting one changes the
meter registry, whose readings then lower the sewage billed) and the reminders before each
mandatory reading date and before a meter's legalisation expires."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from ebok_shared.bus import Outbox
from ebok_shared.clock import clock
from ebok_shared.refusals import Refusal

from .. import events
from ..clients import repository as clients_repo
from ..common.connection import Record
from ..common.values import Photo
from ..meters import domain as meters
from ..meters import repository as meters_repo
from ..meters import use_cases as registry
from ..meters.domain import MeterRef
from ..readings import repository as readings_repo
from ..readings.domain import Rules
from ..readings.use_cases import save_photo
from . import domain as garden
from . import repository as repo
from .domain import GardenRequest, RequestRecord


@dataclass(frozen=True)
class Request:
    """A request with its status history."""

    row: Record
    history: list[Record]


async def _check_no_open_request(conn: asyncpg.Connection, serial: str, field: str) -> None:
    if await repo.open_request_for(conn, serial) is not None:
        raise garden.pending(serial, field)


async def check_garden_request(
    conn: asyncpg.Connection,
    client_number: str,
    g: GardenRequest,
    today: dt.date,
    *,
    exclude_open: uuid.UUID | None = None,
) -> Record:
    """Every rule a garden-meter request must meet (again at the operator's decision).
    Returns the contract it concerns."""
    if g.kind in ("replacement", "removal"):
        assert g.old_serial is not None and g.final_value is not None
        old = garden.check_own_garden_meter(
            await meters_repo.client_meter(conn, g.old_serial, client_number, lock=True)
        )
        contract = await clients_repo.contract(conn, old["contract_number"])
        assert contract is not None
        meters.check_done_on(contract, g.done_on, today, "done_on")
        await registry.check_final(
            conn, old, g.done_on, g.final_value, date_field="done_on", value_field="final_value"
        )
        if exclude_open is None:
            await _check_no_open_request(conn, g.old_serial, "old_serial")
    else:
        contracts = await clients_repo.client_contracts(conn, client_number)
        contract = garden.choose_contract(contracts, g.contract_number, today)
        meters.check_done_on(contract, g.done_on, today, "done_on")
    if g.kind in ("installation", "replacement"):
        assert g.new_serial is not None
        garden.check_new_serial_differs(g)
        await registry.check_new_serial(conn, g.new_serial, "new_serial")
        if exclude_open is None:
            await _check_no_open_request(conn, g.new_serial, "new_serial")
    return contract


@dataclass(frozen=True)
class SubmitGardenRequest:
    client_number: str
    request: GardenRequest
    photo: Photo | None = None
    idempotency_key: str | None = None


async def submit_garden_request(
    pool: asyncpg.Pool, outbox: Outbox, cmd: SubmitGardenRequest
) -> Request:
    """The request as submitted; the same one again for a repeated idempotency key."""
    today, now = clock.today(), clock.now()
    client, key = cmd.client_number, cmd.idempotency_key
    async with pool.acquire() as conn, conn.transaction():
        done = await repo.request_by_key(conn, client, key) if key is not None else None
        if done is None:
            photo_id = await save_photo(conn, client, cmd.photo, now)
            contract = await check_garden_request(conn, client, cmd.request, today)
            done = await _insert(conn, cmd, contract, photo_id, now)
            await events.request_submitted(conn, outbox, RequestRecord.of(done))
        history = await repo.histories(conn, [done["id"]])
    return Request(done, history[done["id"]])


async def _insert(
    conn: asyncpg.Connection,
    cmd: SubmitGardenRequest,
    contract: Record,
    photo_id: uuid.UUID | None,
    now: dt.datetime,
) -> Record:
    g, by = cmd.request, f"customer:{cmd.client_number}"
    row = await repo.insert_request(
        conn,
        id=uuid.uuid4(),
        client_number=cmd.client_number,
        contract_number=contract["contract_number"],
        kind=g.kind,
        status="submitted",
        done_on=g.done_on,
        new_serial=g.new_serial,
        initial_value=g.initial_value,
        seal_number=g.seal_number,
        old_serial=g.old_serial,
        final_value=g.final_value,
        photo_id=photo_id,
        idempotency_key=cmd.idempotency_key,
        submitted_by=by,
        submitted_at=now,
    )
    await repo.add_history(conn, row["id"], "submitted", now, by, None)
    return row


async def decide_garden_request(
    pool: asyncpg.Pool,
    outbox: Outbox,
    rules: Rules,
    request_id: uuid.UUID,
    *,
    accept: bool,
    reason: str | None,
    by: str,
) -> Request:
    """Accepting applies the request to the meter registry, checked again by every rule."""
    today, now = clock.today(), clock.now()
    async with pool.acquire() as conn, conn.transaction():
        q = garden.check_undecided(await repo.request(conn, request_id, lock=True))
        if accept:
            try:
                contract = await check_garden_request(
                    conn, q["client_number"], GardenRequest.of(q), today, exclude_open=q["id"]
                )
            except Refusal as exc:
                raise garden.cannot_be_applied(exc) from None
            await _apply(conn, outbox, rules, q, contract, now)
        status = "accepted" if accept else "rejected"
        await repo.decide_request(conn, request_id, status, by, reason, now)
        await repo.add_history(conn, request_id, status, now, by, reason)
        decided = await repo.request(conn, request_id)
        assert decided is not None
        await events.request_decided(conn, outbox, RequestRecord.of(decided))
        history = await repo.histories(conn, [request_id])
    return Request(decided, history[request_id])


async def _apply(
    conn: asyncpg.Connection,
    outbox: Outbox,
    rules: Rules,
    q: Record,
    contract: Record,
    now: dt.datetime,
) -> None:
    by = q["submitted_by"]
    if q["kind"] == "installation":
        await registry.install_meter(
            conn,
            outbox,
            rules,
            serial=q["new_serial"],
            kind="garden",
            contract=contract,
            installed_on=q["done_on"],
            initial_value=q["initial_value"],
            seal_number=q["seal_number"],
            source="customer",
            by=by,
            now=now,
            photo_id=q["photo_id"],
        )
        return
    old = await meters_repo.meter(conn, q["old_serial"], lock=True)
    assert old is not None
    if q["kind"] == "replacement":
        await registry.replace_meter(
            conn,
            outbox,
            rules,
            old,
            new_serial=q["new_serial"],
            replaced_on=q["done_on"],
            final_value=q["final_value"],
            initial_value=q["initial_value"],
            seal_number=q["seal_number"],
            source="customer",
            by=by,
            now=now,
            photo_id=q["photo_id"],
        )
    else:
        await registry.remove_meter(
            conn,
            outbox,
            old,
            removed_on=q["done_on"],
            final_value=q["final_value"],
            source="customer",
            by=by,
            now=now,
            photo_id=q["photo_id"],
        )


# -- what customers and operators read ---------------------------------------------------------


@dataclass(frozen=True)
class RequestsPage:
    total: int
    requests: list[Request]


async def requests(
    pool: asyncpg.Pool,
    *,
    client_number: str | None,
    status: str | None,
    limit: int,
    offset: int,
    oldest_first: bool = False,
) -> RequestsPage:
    async with pool.acquire() as conn:
        total, rows = await repo.requests_page(
            conn,
            client_number=client_number,
            status=status,
            limit=limit,
            offset=offset,
            oldest_first=oldest_first,
        )
        # Most customers have no open request (the dashboard asks): no second round trip.
        history = await repo.histories(conn, [r["id"] for r in rows]) if rows else {}
    return RequestsPage(total, [Request(r, history[r["id"]]) for r in rows])


async def request(pool: asyncpg.Pool, request_id: uuid.UUID) -> Request:
    async with pool.acquire() as conn:
        row = await repo.request(conn, request_id)
        if row is None:
            raise garden.not_found()
        history = await repo.histories(conn, [request_id])
    return Request(row, history[request_id])


# -- reminders ----------------------------------------------------------------------------------


async def send_reminders(
    pool: asyncpg.Pool,
    outbox: Outbox,
    *,
    dates: Sequence[str],
    reading_lead_days: int,
    legalisation_years: int,
    legalisation_lead_days: int,
    today: dt.date,
    now: dt.datetime,
) -> int:
    """Publish the reminders due ``today``; returns how many this call published. A
    reminder is claimed by its (meter, kind, due date) row in the same transaction as its
    event, so two replicas running at once publish it once."""
    async with pool.acquire() as conn:
        found = await meters_repo.garden_meters_for_reminders(conn, today)
    published = 0
    for meter in found:
        async with pool.acquire() as conn, conn.transaction():
            last = await readings_repo.last_read_on(conn, meter["serial"])
            for reminder in garden.reminders_due(
                today,
                installed_on=meter["installed_on"],
                sealed_on=meter["sealed_on"],
                last_read_on=last,
                dates=dates,
                reading_lead_days=reading_lead_days,
                legalisation_years=legalisation_years,
                legalisation_lead_days=legalisation_lead_days,
            ):
                if not await repo.claim_reminder(
                    conn, meter["serial"], reminder.kind, reminder.due_on, now
                ):
                    continue
                if reminder.kind == "reading":
                    await events.reading_due(
                        conn, outbox, MeterRef.of(meter), reminder.due_on, last
                    )
                else:
                    await events.legalisation_expiring(
                        conn, outbox, MeterRef.of(meter), reminder.due_on
                    )
                published += 1
    return published
