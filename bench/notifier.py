"""Notifier benchmark: e-mails per second through the whole path, next to bare aiosmtplib
sends to the same SMTP sink in the same run (the ratio shows what the delivery log, the
consumer and the rendering cost), and the time a regulations campaign takes.

    .venv/bin/python bench/notifier.py [--emails N] [--recipients N] [--pool N]

(a) raw: aiosmtplib on ``--pool`` connections sending ``--emails`` ready-made messages (the
    same e-mail the notifier builds) to an aiosmtpd sink in its own process; run before and
    after the rest, the better of the two reported. The same SMTP conversation the notifier
    has (MAIL FROM with SIZE, RCPT TO, DATA, each message on a kept connection), through
    aiosmtplib's public commands rather than ``sendmail`` (which parses the addresses four
    times and normalises the message twice: the notifier does not, so neither does its
    limit), the message's DATA through the notifier's own ``send_data`` (which does not
    rewrite a message that has CRLF line ends already, as ``client.data`` does: the limit
    spares itself what the notifier spares itself), on the event loop the notifier runs on
    (uvloop).
(b) whole path: ``--emails`` ``auth.password_reset.requested`` events put on the broker as the
    outbox relay would; the notifier (its own process, ``python -m ebok_notifier``) consumes
    them, writes each e-mail to its delivery log in the inbox transaction, and its sender
    delivers them to the same sink. Timed from the first publish to the last 'sent' row.
(c) campaign: ``--recipients`` active users in the notifier's projection, one
    ``auth.regulations.published`` event, the campaign rate set far above what is reachable
    (so this measures capacity, not the throttle). Timed from the publish to the last 'sent'
    row. Below 100,000 recipients the time for 100,000 is extrapolated linearly and labelled
    so; ``--recipients 100000`` runs the real thing (several minutes).

The default run finishes within a minute. Its 3,000 e-mails give each side a window of
2-6 s: at 1,000 (0.6-1.6 s) the ratio went from 0.42 to 0.61 between runs on a quiet
machine, the whole path's start (consumer, first claim) and end (the look every 10 ms) and
any other process's burst weighing on a window under a second. The raw side sends as many
e-mails, so both measure the same work over a comparable stretch. It makes its own database
and bus prefix, and removes both afterwards. PostgreSQL and RabbitMQ: ``EBOK_TEST_PG_DSN`` /
``EBOK_TEST_AMQP_URL`` or the local servers.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
import aiosmtplib
import asyncpg
import report  # bench/report.py, beside this script
from aio_pika.abc import AbstractChannel, AbstractExchange
from ebok_notifier.compose import prepare
from ebok_notifier.domain import Kind
from ebok_notifier.render import Brand, Renderer
from ebok_notifier.settings import NotifierSettings
from ebok_notifier.transport import send_data
from ebok_shared import db
from ebok_shared.bus import Event, Topology
from ebok_shared.loops import event_loop

ADMIN_DSN = os.environ.get("EBOK_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("EBOK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
FULL_CAMPAIGN = 100_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sink(port: int, ready: Any) -> None:
    """An aiosmtpd server that accepts and forgets every message (its own process)."""
    from aiosmtpd.controller import Controller

    class Discard:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    controller = Controller(Discard(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    signal.sigwait({signal.SIGTERM})
    controller.stop()


def _reset_email(n: int) -> dict[str, Any]:
    return {
        "client_number": f"{100000 + n % 900000:06d}",
        "email": f"bench{n}@example.pl",
        "token": uuid.uuid4().hex + uuid.uuid4().hex,
        "expires_at": "2026-01-05T11:00:00+00:00",
    }


async def raw_sends(
    port: int, count: int, pool: int, sink: int | None
) -> tuple[float, float, float]:
    """E-mails per second, aiosmtplib alone, same message as the notifier sends; and the CPU
    µs per e-mail of this process (the client side) and of the sink."""
    settings = NotifierSettings.from_env({}, database_url="postgresql://unused/x")
    renderer = Renderer(
        Brand(settings.utility_name, settings.public_base_url, settings.contact_email, "0")
    )
    prepared = prepare(
        renderer.render(Kind.PASSWORD_RESET, _reset_email(0)), sender=settings.sender_address
    )
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def worker() -> None:
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=port, start_tls=False, local_hostname="bench"
        )
        await client.connect()
        await client.ehlo()
        mail_from = f"FROM:<{settings.sender_address.addr_spec}>".encode()
        while not queue.empty():
            n = queue.get_nowait()
            address = f"bench{n}@example.pl"
            message = prepared.finish(
                recipient=address,
                message_id=f"<raw{n}@bench>",
                date=Event.new("a.b", {}).occurred_at,
            )
            size = b"SIZE=%d" % len(message)
            answers = [
                await client.execute_command(b"MAIL", mail_from, size),
                await client.execute_command(b"RCPT", f"TO:<{address}>".encode()),
                await send_data(client, message),
            ]
            assert [a.code for a in answers] == [250, 250, 250], answers
        await client.quit()

    started, cpu, sink_cpu = time.perf_counter(), report.own_cpu(), report.cpu_seconds(sink)
    await asyncio.gather(*(worker() for _ in range(pool)))
    return (
        count / (time.perf_counter() - started),
        (report.own_cpu() - cpu) / count * 1e6,
        (report.cpu_seconds(sink) - sink_cpu) / count * 1e6,
    )


async def _wait(check: Callable[[], Any], timeout: float, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise SystemExit("bench: gave up waiting")
        await asyncio.sleep(every)


async def _backends(pool: asyncpg.Pool) -> list[int]:
    """The process ids of the other sessions in this database: the notifier's."""
    rows = await pool.fetch(
        "SELECT pid FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return [r["pid"] for r in rows]


async def _commits(pool: asyncpg.Pool) -> int:
    """Transactions committed in this database so far (statistics lag by up to a second's
    flush: the figure is read after the path is idle)."""
    await asyncio.sleep(1.0)
    count = await pool.fetchval(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    )
    return int(count)


async def _exchange(channel: AbstractChannel, prefix: str, event_type: str) -> AbstractExchange:
    """The exchange ``event_type`` goes to, declared once before timing, as the outbox relay
    does per channel (declared per event, its round trips were a third of the time measured
    for 1,000 e-mails: the first poll found 33 of them in the delivery log after 0.32 s)."""
    return await channel.declare_exchange(
        Topology(prefix).exchange_for(event_type), aio_pika.ExchangeType.TOPIC, durable=True
    )


async def _publish(exchange: AbstractExchange, event: Event) -> None:
    await exchange.publish(
        aio_pika.Message(
            event.to_json(),
            message_id=str(event.id),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        ),
        event.type,
        mandatory=True,
    )


async def _notifier(env: dict[str, str], port: int, log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ebok_notifier", "serve",
            env={**os.environ, **env}, stdout=out, stderr=out,
        )  # fmt: skip
    async with aiohttp.ClientSession() as session:

        async def ready() -> bool:
            if process.returncode is not None:
                raise SystemExit(f"bench: the notifier exited; see {log}")
            try:
                async with session.get(f"http://127.0.0.1:{port}/health/ready") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        await _wait(ready, 60)
    return process


async def main(args: argparse.Namespace) -> None:
    smtp_port, http_port = _free_port(), _free_port()
    context = multiprocessing.get_context("spawn")
    sink_ready = context.Event()
    sink = context.Process(target=_sink, args=(smtp_port, sink_ready), daemon=True)
    sink.start()
    sink_ready.wait(30)

    name = f"ebok_bench_notifier_{uuid.uuid4().hex[:8]}"
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    await db.ensure_database(ADMIN_DSN, name)
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    log = Path(f"/tmp/{name}.log")
    env = {
        "EBOK_DATABASE_URL": dsn,
        "EBOK_AMQP_URL": AMQP_URL,
        "EBOK_BUS_PREFIX": prefix,
        "EBOK_HTTP_HOST": "127.0.0.1",
        "EBOK_HTTP_PORT": str(http_port),
        "EBOK_LOG_LEVEL": "WARNING",
        "EBOK_SMTP_HOST": "127.0.0.1",
        "EBOK_SMTP_PORT": str(smtp_port),
        "EBOK_SMTP_POOL_SIZE": str(args.pool),
        "EBOK_SENDER_BATCH_SIZE": str(args.pool * 8),
        "EBOK_SENDER_POLL_INTERVAL": "0.2",
        "EBOK_CAMPAIGN_RATE": "1000000",
        "EBOK_RETRY_DELAYS": "1",
    }
    process = None
    connection = await aio_pika.connect_robust(AMQP_URL)
    pool: asyncpg.Pool | None = None
    try:
        raw, raw_cpu, raw_sink = await raw_sends(smtp_port, args.emails, args.pool, sink.pid)

        process = await _notifier(env, http_port, log)
        pool = await db.create_pool(dsn, min_size=1, max_size=1)
        assert pool is not None
        channel = await connection.channel(publisher_confirms=True)
        backends = {pid: report.cpu_seconds(pid) for pid in await _backends(pool)}
        sink_cpu = report.cpu_seconds(sink.pid)
        commits = await _commits(pool)
        resets = await _exchange(channel, prefix, "auth.password_reset.requested")
        events = [
            Event.new("auth.password_reset.requested", _reset_email(n)) for n in range(args.emails)
        ]
        started, cpu = time.perf_counter(), report.cpu_seconds(process.pid)
        started_at = dt.datetime.now(dt.UTC)  # the same instant, on the clock sent_at is on
        # All in flight at once, as the outbox relay publishes a batch (awaiting each
        # confirm in turn would time this process's round trips, not the notifier).
        await asyncio.gather(*(_publish(resets, event) for event in events))
        published, logged = time.perf_counter() - started, 0.0

        finished = 0.0

        async def all_sent() -> bool:
            """Whether every e-mail is recorded as sent, looked at without scanning the table:
            the id sequence until it says all may be logged (then counted once), then the
            two partial indexes the sender claims from, empty once nothing is pending or
            being sent (then the sent ones counted once). The count of every row version this
            replaced cost the server ~170 µs per look on average (270 µs per e-mail, read
            from the session's CPU time; then 90-150 µs, and 10-40 µs with a look every
            100 ms), on the two cores the path shares, a load the raw side does not carry."""
            nonlocal logged, finished
            assert pool is not None
            if not logged:
                if await pool.fetchval("SELECT last_value FROM deliveries_id_seq") < args.emails:
                    return False
                if await pool.fetchval("SELECT count(*) FROM deliveries") < args.emails:
                    return False
                logged = time.perf_counter() - started
            if await pool.fetchval(
                "SELECT EXISTS (SELECT FROM deliveries WHERE status = 'pending')"
                " OR EXISTS (SELECT FROM deliveries WHERE status = 'sending')"
            ):
                return False
            sent, last = await pool.fetchrow(
                "SELECT count(*), max(sent_at) FROM deliveries WHERE status = 'sent'"
            )
            if sent < args.emails:
                raise SystemExit(f"bench: {args.emails - sent} e-mails not sent; see {log}")
            # The end is when the last 'sent' was recorded (the notifier's clock, this
            # machine's), not when this look saw it: the look's period adds nothing.
            finished = (last - started_at).total_seconds()
            return True

        # Looked at every 100 ms: the end is read from the log (sent_at), so a slower look
        # costs no precision. At 10 ms, with the end taken as the look that saw it, the
        # looks cost PostgreSQL 60-300 µs per e-mail on the two cores the path shares, a
        # load the raw side does not carry, more the longer the run took.
        observer = await pool.fetchval("SELECT pg_backend_pid()")
        observer_cpu = report.cpu_seconds(observer)
        await _wait(all_sent, 600, every=0.1)
        observer_cpu = (report.cpu_seconds(observer) - observer_cpu) / args.emails * 1e6
        whole = args.emails / finished
        phases = (
            f"published {published:.2f} s, all in the delivery log {logged:.2f} s,"
            f" all sent {finished:.2f} s"
        )
        whole_cpu = (report.cpu_seconds(process.pid) - cpu) / args.emails * 1e6
        whole_sink = (report.cpu_seconds(sink.pid) - sink_cpu) / args.emails * 1e6
        # The notifier's database sessions (those its pool opened meanwhile: all their CPU).
        db_cpu = sum(
            report.cpu_seconds(pid) - backends.get(pid, 0.0) for pid in await _backends(pool)
        )
        db_cpu = db_cpu / args.emails * 1e6
        commits = (await _commits(pool) - commits) / args.emails

        await pool.execute(
            """
            INSERT INTO recipients (client_number, email, status, activated_at, last_event_at)
            SELECT lpad(n::text, 7, '0'), 'user' || n || '@example.pl', 'active',
                   now() - interval '1 day', now() - interval '1 day'
              FROM generate_series(1, $1) AS n
            """,
            args.recipients,
        )
        regulations = Event.new(
            "auth.regulations.published",
            {
                "version": 2,
                "effective_from": "2026-03-01T00:00:00+01:00",
                "summary": "Zmiana zasad blokowania konta po rozwiązaniu umowy.",
                "changed_clauses": ["II.7"],
            },
        )
        exchange = await _exchange(channel, prefix, regulations.type)
        started = time.perf_counter()
        await _publish(exchange, regulations)

        async def campaign_sent() -> bool:
            assert pool is not None
            count = await pool.fetchval(
                "SELECT count(*) FROM deliveries WHERE event_id = $1 AND status = 'sent'",
                regulations.id,
            )
            return bool(count >= args.recipients)

        await _wait(campaign_sent, 3600)
        campaign = time.perf_counter() - started
        # Once more now the notifier is idle: the better of the two is the limit.
        again, again_cpu, again_sink = await raw_sends(smtp_port, args.emails, args.pool, sink.pid)
        if again > raw:
            raw, raw_cpu, raw_sink = again, again_cpu, again_sink
    finally:
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await process.wait()
        if pool is not None:
            await pool.close()
        channel = await connection.channel()
        for queue in ("notifier", "notifier.dlq", "notifier.retry.1"):
            await channel.queue_delete(prefix + queue, if_unused=False, if_empty=False)
        for producer in ("auth", "billing", "correspondence", "readings"):
            await channel.exchange_delete(f"{prefix}{producer}.events", if_unused=False)
        await connection.close()
        await db.drop_database(ADMIN_DSN, name)
        os.kill(sink.pid or 0, signal.SIGTERM)
        sink.join(5)
        await asyncio.to_thread(log.unlink, True)

    per_second = args.recipients / campaign
    print(f"e-mails through the whole path: {whole:8.0f} /s  ({args.emails} password resets)")
    print(f"  from the first publish: {phases}")
    print(f"raw aiosmtplib, same sink:      {raw:8.0f} /s  ({args.pool} connections)")
    print(f"CPU per e-mail: notifier process {whole_cpu:.0f} µs; raw client {raw_cpu:.0f} µs")
    print(
        f"CPU per e-mail elsewhere: SMTP sink {whole_sink:.0f} µs (raw: {raw_sink:.0f} µs);"
        f" the notifier's PostgreSQL sessions {db_cpu:.0f} µs, {commits:.2f} transactions;"
        f" this benchmark's look for the end {observer_cpu:.0f} µs"
    )
    print(f"campaign of {args.recipients:,} recipients:  {campaign:8.1f} s  ({per_second:.0f} /s)")
    if args.recipients < FULL_CAMPAIGN:
        print(
            f"campaign of {FULL_CAMPAIGN:,} recipients: ~{FULL_CAMPAIGN / per_second:7.0f} s"
            "  (EXTRAPOLATED linearly from the run above; --recipients 100000 measures it)"
        )
    default_rate = NotifierSettings.from_env({}, database_url="postgresql://x/y").campaign_rate
    print(
        f"(in production the campaign is throttled to EBOK_CAMPAIGN_RATE, default"
        f" {default_rate:.0f}/s: {FULL_CAMPAIGN / default_rate / 60:.0f} min for 100,000)"
    )
    report.ratio(
        "notifier-whole-path", whole, raw, 0.5, "e-mails/s", cpu_us=whole_cpu, limit_cpu_us=raw_cpu
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=3000, help="e-mails for (a) and (b)")
    parser.add_argument("--recipients", type=int, default=5000, help="campaign size for (c)")
    parser.add_argument("--pool", type=int, default=4, help="SMTP connections")
    # On the event loop the services serve on (uvloop): the raw client as the notifier's.
    with asyncio.Runner(loop_factory=event_loop) as runner:
        runner.run(main(parser.parse_args()))
