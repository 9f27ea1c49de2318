"""The garden-meter reminder scheduler: before each mandatory reading date and before a
meter's legalisation expires, one reminder event per meter and date for the notifier.

Safe with several replicas: a reminder is claimed by inserting its (meter, kind, due date)
row in the same transaction as its outbox event, so two replicas running at once publish it
once (the second insert waits for the first transaction and then finds the row). A day the
scheduler missed is caught up while the due date has not passed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web
from ebok_shared.bus import Outbox
from ebok_shared.clock import clock
from ebok_shared.logs import get_logger
from ebok_shared.loops import every, running
from ebok_shared.service import BUS, POOL

from .garden import use_cases as garden
from .settings import ReadingsSettings

log = get_logger(__name__)


async def run_once(
    pool: asyncpg.Pool, outbox: Outbox, s: ReadingsSettings, today: dt.date, now: dt.datetime
) -> int:
    """One round: publish the reminders due ``today``; returns how many this call published."""
    published = await garden.send_reminders(
        pool,
        outbox,
        dates=s.garden_reading_dates,
        reading_lead_days=s.reading_reminder_days,
        legalisation_years=s.legalisation_years,
        legalisation_lead_days=s.legalisation_reminder_days,
        today=today,
        now=now,
    )
    if published:
        log.info("garden-meter reminders published", count=published, today=today.isoformat())
    return published


async def scheduler_context(app: web.Application) -> AsyncIterator[None]:
    s = ReadingsSettings.of(app)
    if not s.scheduler_enabled:
        yield
        return

    async def step() -> None:
        await run_once(app[POOL], app[BUS].outbox, s, clock.today(), clock.now())

    # The database may be away: the loop logs it and tries again next round.
    async with running(
        "readings:reminders", every("readings:reminders", s.scheduler_interval, step)
    ):
        yield
