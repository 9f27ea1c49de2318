"""Campaigns: one event, an e-mail to every active user, throttled by its schedule,
resumable after a crash without gaps or duplicates, its progress visible to operators."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
import asyncpg
from ebok_notifier.app import SPEC, intake_for, spec_for
from ebok_notifier.campaigns import CampaignWorker
from ebok_notifier.domain import message_id
from ebok_notifier.settings import NotifierSettings
from ebok_shared import db
from ebok_shared.bus import Event
from ebok_shared.service import migration_folders

from tests.notifier.harness import (
    Notifier,
    environment,
    running_notifier,
    seed_recipients,
    settings_for,
)
from tests.support.commands import free_port
from tests.support.events import publish_event
from tests.support.service import delete_service_bus
from tests.support.smtp import SmtpServer
from tests.support.tokens import Issuer
from tests.support.waiting import eventually

REGULATIONS = "auth.regulations.published"
REGULATIONS_PAYLOAD = {
    "version": 2,
    "effective_from": "2026-03-01T00:00:00+01:00",
    "summary": "Nowe zasady zgłaszania odczytów wodomierzy.",
    "changed_clauses": ["III.a"],
}


async def start_campaign(pool: asyncpg.Pool, settings: NotifierSettings) -> tuple[Event, int]:
    """What the consumer does with the regulations event: its handler, in one transaction."""
    event = Event.new(REGULATIONS, dict(REGULATIONS_PAYLOAD))
    async with pool.acquire() as conn, conn.transaction():
        await intake_for(settings).regulations_published(conn, event)
        campaign_id = await conn.fetchval("SELECT id FROM campaigns WHERE event_id = $1", event.id)
    return event, int(campaign_id)


async def test_campaign_reaches_every_active_user_once(
    notifier: Notifier, smtp: SmtpServer
) -> None:
    active = await seed_recipients(notifier.pool, 120)
    blocked = await seed_recipients(notifier.pool, 5, status="blocked", start=300000)
    event = await notifier.emit(REGULATIONS, dict(REGULATIONS_PAYLOAD))
    headers = notifier.issuer.operator()

    async def campaign_id() -> int | None:
        found = await notifier.pool.fetchval(
            "SELECT id FROM campaigns WHERE event_id = $1", event.id
        )
        return int(found) if found is not None else None

    async def started() -> bool:
        return await campaign_id() is not None

    await eventually(started, "the event to start a campaign")
    url = f"/operator/campaigns/{await campaign_id()}"

    async def done() -> bool:
        resp = await notifier.client.get(url, headers=headers)
        return bool((await resp.json())["done"])

    await eventually(done, "the campaign to finish")

    progress = await (await notifier.client.get(url, headers=headers)).json()
    assert (progress["total"], progress["sent"], progress["failed"]) == (120, 120, 0)
    listed = await (await notifier.client.get("/operator/campaigns", headers=headers)).json()
    assert [c["id"] for c in listed["items"]] == [progress["id"]]
    domain = notifier.settings.message_id_domain
    expected = {message_id(event.id, address, domain) for _, address in active}
    ids = smtp.message_ids()
    assert set(ids) == expected and set(ids.values()) == {1}
    assert not any(smtp.to(address) for _, address in blocked)
    received = smtp.messages[0].message()
    assert received["Subject"] == "Zmiana Regulaminu e-BOK od 1 marca 2026"


async def test_a_new_campaign_wakes_the_worker_without_its_poll(
    database: str, amqp_url: str, bus_prefix: str, smtp: SmtpServer, issuer: Issuer
) -> None:
    """The campaign worker LISTENs: with its own look an hour away (the fallback for a
    campaign a dead replica left half materialised), the campaign's creation alone starts it.
    The worker's first look, at start, comes before the event, so finds nothing."""
    settings = settings_for(database, amqp_url, bus_prefix, smtp, sender_reclaim_interval=3600.0)
    async with running_notifier(settings, issuer=issuer) as notifier:
        people = await seed_recipients(notifier.pool, 30)
        event = await notifier.emit(REGULATIONS, dict(REGULATIONS_PAYLOAD))

        async def all_sent() -> bool:
            count = await notifier.pool.fetchval(
                "SELECT count(*) FROM deliveries WHERE event_id = $1 AND status = 'sent'",
                event.id,
            )
            return bool(count == len(people))

        await eventually(all_sent, "the campaign to be materialised and sent")


async def test_the_rate_is_kept_by_the_schedule(database: str, smtp: SmtpServer) -> None:
    """The n-th e-mail is due at start + n / rate, chunk after chunk: the throttle holds across
    replicas and restarts because it is data, not a sleeping loop."""
    settings = settings_for(database, "amqp://unused/", "", smtp, campaign_rate=40.0)
    pool = await _migrated_pool(database)
    try:
        await seed_recipients(pool, 95)
        _event, campaign_id = await start_campaign(pool, settings)
        worker = CampaignWorker(
            pool, dsn=database, chunk_size=20, message_id_domain="x.pl", poll_interval=0.1
        )
        while await worker.materialise_chunk():
            pass
        starts_at = await pool.fetchval(
            "SELECT starts_at FROM campaigns WHERE id = $1", campaign_id
        )
        due = [
            r["next_attempt_at"]
            for r in await pool.fetch(
                "SELECT next_attempt_at FROM deliveries WHERE campaign_id = $1"
                " ORDER BY client_number",
                campaign_id,
            )
        ]
        assert len(due) == 95
        assert due == [starts_at + dt.timedelta(seconds=n / 40.0) for n in range(95)]
    finally:
        await pool.close()


async def test_replicas_materialise_a_campaign_without_gaps_or_duplicates(
    database: str, smtp: SmtpServer
) -> None:
    settings = settings_for(database, "amqp://unused/", "", smtp)
    pools = [await _migrated_pool(database) for _ in range(3)]
    try:
        people = await seed_recipients(pools[0], 1000)
        await seed_recipients(pools[0], 10, status="blocked", start=500000)
        _event, campaign_id = await start_campaign(pools[0], settings)
        workers = [
            CampaignWorker(
                pool, dsn=database, chunk_size=37, message_id_domain="x.pl", poll_interval=0.1
            )
            for pool in pools
        ]

        async def drain(worker: CampaignWorker) -> None:
            while await worker.materialise_chunk():
                pass

        await asyncio.gather(*(drain(w) for w in workers))
        rows = await pools[0].fetch(
            "SELECT client_number FROM deliveries WHERE campaign_id = $1", campaign_id
        )
        assert sorted(r["client_number"] for r in rows) == [n for n, _ in people]
        campaign = await pools[0].fetchrow("SELECT * FROM campaigns WHERE id = $1", campaign_id)
        assert (campaign["status"], campaign["materialised"], campaign["total"]) == (
            "queued",
            1000,
            1000,
        )
    finally:
        for pool in pools:
            await pool.close()


async def _migrated_pool(dsn: str) -> asyncpg.Pool:
    pool = await db.create_pool(dsn, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await db.migrate(conn, migration_folders(SPEC))
    return pool


# -- a real process, killed for real ----------------------------------------------------------


@asynccontextmanager
async def notifier_process(
    values: dict[str, Any], log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m ebok_notifier serve`` in a child process, ready to take traffic."""
    env = {**os.environ, **environment(values)}
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ebok_notifier", "serve", env=env, stdout=out, stderr=out
        )
    try:
        url = f"http://127.0.0.1:{values['http_port']}/health/ready"
        async with aiohttp.ClientSession() as session:

            async def ready() -> bool:
                if process.returncode is not None:
                    output = await asyncio.to_thread(log.read_text)
                    raise AssertionError(f"notifier exited: {output[-2000:]}")
                try:
                    async with session.get(url) as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

            await eventually(ready, "the notifier process to be ready", within=60)
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await process.wait()


async def test_killed_mid_campaign_every_recipient_gets_it_and_only_in_flight_ones_twice(
    database: str, amqp_url: str, bus_prefix: str, smtp: SmtpServer, tmp_path: Path
) -> None:
    recipients = 3_000  # ten chunks of 300, killed at a quarter
    values: dict[str, Any] = {
        "database_url": database,
        "amqp_url": amqp_url,
        "bus_prefix": bus_prefix,
        "http_port": free_port(),
        "http_host": "127.0.0.1",
        "log_level": "WARNING",
        "smtp_host": smtp.host,
        "smtp_port": smtp.port,
        "smtp_pool_size": 4,
        "sender_batch_size": 32,
        "sender_poll_interval": 0.1,
        "delivery_retry_base": 0.1,
        "delivery_retry_max": 0.5,
        "campaign_rate": 100_000.0,
        "campaign_chunk_size": 300,
        "retry_delays": (0.2, 0.4),
    }
    settings = settings_for(database, amqp_url, bus_prefix, smtp, retry_delays=(0.2, 0.4))
    pool = await _migrated_pool(database)
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        people = await seed_recipients(pool, recipients)
        async with notifier_process(values, tmp_path / "first.log") as first:
            event = await publish_event(
                connection, bus_prefix, Event.new(REGULATIONS, REGULATIONS_PAYLOAD)
            )
            await eventually(
                lambda: smtp.count >= recipients // 4, "a quarter to be sent", within=120
            )
            first.send_signal(signal.SIGKILL)
            await first.wait()
        assert first.returncode == -signal.SIGKILL
        in_flight = {
            r["message_id"]
            for r in await pool.fetch("SELECT message_id FROM deliveries WHERE status = 'sending'")
        }
        sent_before_restart = smtp.count
        assert sent_before_restart < recipients  # it really was mid-campaign

        async def finished() -> bool:
            waiting = await pool.fetchval(
                "SELECT count(*) FROM deliveries WHERE status IN ('pending', 'sending')"
            )
            status = await pool.fetchval(
                "SELECT status FROM campaigns WHERE event_id = $1", event.id
            )
            return waiting == 0 and status == "queued"

        async with notifier_process(values, tmp_path / "second.log"):
            await eventually(finished, "the restarted notifier to finish the campaign", within=180)
        domain = settings.message_id_domain
        expected = {message_id(event.id, address, domain) for _, address in people}
        copies = smtp.message_ids()
        assert set(copies) == expected  # every recipient, and nobody else
        duplicated = {mid for mid, n in copies.items() if n > 1}
        assert duplicated <= in_flight  # a second copy only of what was in flight at the kill
        assert all(n <= 2 for n in copies.values())
        assert smtp.count - recipients <= len(in_flight)
        statuses = await pool.fetch("SELECT status, count(*) AS n FROM deliveries GROUP BY status")
        assert {r["status"]: r["n"] for r in statuses} == {"sent": recipients}
    finally:
        await delete_service_bus(connection, settings, spec_for(settings))
        await connection.close()
        await pool.close()
