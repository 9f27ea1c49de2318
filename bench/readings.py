"""Readings submitted per second through the readings service, next to bare asyncpg inserts of
the same rows, in the same run.

    .venv/bin/python bench/readings.py [--readings 1500] [--concurrency 16] [--seconds 20]

It starts what it measures and stops it: a fresh PostgreSQL database, the real readings app
(migrations, outbox relay, consumer) on a real local port, a stand-in token issuer; it uses
the local RabbitMQ under a bus prefix of its own and removes everything at the end.

Service: each request is a customer's ``POST /me/meters/{serial}/readings`` with a bearer
token: token check, the reading's rules (meter, dates, previous reading, plausibility), the
reading row and its ``readings.reading.accepted`` event committed in one transaction through
the outbox. The relay publishes the events to the broker meanwhile; the run waits until the
outbox is empty and reports that too. Bare: the same rows inserted by asyncpg into a table of
the same columns, one INSERT per row, with the same concurrency. Ratio = bare / service.
Latencies are per request (service) or per INSERT (bare); p99 is the 99th percentile.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
import asyncpg
import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ebok_readings import events
from ebok_readings.app import create_app
from ebok_readings.backoffice import QUEUE as BACKOFFICE_QUEUE
from ebok_readings.settings import ReadingsSettings
from ebok_shared import db, logs
from ebok_shared.bus import Event, RetryPolicy, Topology
from ebok_shared.clock import LOCAL_TZ, clock
from ebok_shared.service import POOL

PG_ADMIN = os.environ.get("EBOK_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP = os.environ.get("EBOK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
TODAY = dt.date(2026, 3, 10)
FIRST_DAY = dt.date(2024, 2, 1)
ISSUER, AUDIENCE = "ebok-auth", "ebok"

BARE_TABLE = """
CREATE TABLE bare_readings (
    id uuid PRIMARY KEY, meter_serial text NOT NULL, contract_number text NOT NULL,
    client_number text NOT NULL, value numeric(12, 3) NOT NULL, read_on date NOT NULL,
    source text NOT NULL, status text NOT NULL, submitted_by text NOT NULL,
    submitted_at timestamptz NOT NULL)
"""
BARE_INSERT = """
INSERT INTO bare_readings (id, meter_serial, contract_number, client_number, value, read_on,
    source, status, submitted_by, submitted_at)
VALUES ($1, $2, $3, $4, $5, $6, 'customer', 'accepted', $7, now())
"""


class Tokens:
    """A stand-in for auth: one Ed25519 key, its JWKS served locally, customer tokens."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.kid = uuid.uuid4().hex[:12]
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.key.public_key()))
        jwks = {"keys": [{**jwk, "kid": self.kid, "alg": "EdDSA", "use": "sig"}]}
        app = web.Application()
        app.router.add_get("/jwks.json", lambda _: web.json_response(jwks))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{_port(self._runner)}/jwks.json"

    def customer(self, client_number: str) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": client_number,
            "kind": "customer",
            "iat": now,
            "exp": now + 3600,
            "sid": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": self.kid})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def _port(runner: web.AppRunner) -> int:
    return int(runner.addresses[0][1])


def plan(count: int, meters: int) -> list[tuple[str, str, str, str, dt.date]]:
    """(client, contract, serial, value, read_on) rows: each meter read on successive days
    with a steady consumption, so every reading passes the rules without a confirmation."""
    rows = []
    for i in range(count):
        meter, day = i % meters, i // meters
        client = f"{500000 + meter:06d}"
        value = Decimal("100.000") + Decimal("0.250") * day
        rows.append(
            (
                client,
                f"U/{client}/2024",
                f"WM-{client}-1",
                f"{value:.3f}",
                FIRST_DAY + dt.timedelta(days=day),
            )
        )
    return rows


async def timed(
    jobs: list[Callable[[], Awaitable[None]]], concurrency: int, seconds: float
) -> tuple[float, list[float], int]:
    """Run ``jobs`` with ``concurrency`` workers (stopping at the time budget); returns the
    elapsed seconds, the latency of each job and how many ran."""
    latencies: list[float] = []
    queue = list(reversed(jobs))
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while queue and time.perf_counter() < deadline:
            job = queue.pop()
            started = time.perf_counter()
            await job()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, len(latencies)


def summary(name: str, elapsed: float, latencies: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0
    return {
        "what": name,
        "rows": len(latencies),
        "seconds": round(elapsed, 3),
        "per_second": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(statistics.median(ordered) * 1000, 2) if ordered else 0.0,
        "p99_ms": round(p99 * 1000, 2),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    logs.configure("bench", "WARNING")
    clock.freeze(dt.datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=LOCAL_TZ))
    name = f"ebok_bench_{uuid.uuid4().hex[:10]}"
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    dsn = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    rows = plan(args.readings, args.meters)
    tokens = Tokens()
    await db.ensure_database(PG_ADMIN, name)
    runner: web.AppRunner | None = None
    try:
        await tokens.start()
        settings = ReadingsSettings.from_env(
            {},
            database_url=dsn,
            amqp_url=AMQP,
            bus_prefix=prefix,
            jwks_url=tokens.url,
            scheduler_enabled=False,
            log_level="WARNING",
            db_pool_max=args.concurrency + 2,
        )
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{_port(runner)}"
        pool: asyncpg.Pool = app[POOL]

        # The meters' contracts, as billing's events leave them.
        async with pool.acquire() as conn, conn.transaction():
            for client, contract, serial, _, _ in rows[: args.meters]:
                await events.contract_concluded(
                    conn,
                    Event.new(
                        events.CONTRACT_CONCLUDED,
                        {
                            "contract_number": contract,
                            "client_number": client,
                            "concluded_on": "2024-01-15",
                            "tariff_group": "G1",
                            "supply_address": {
                                "street": "ul. Testowa 1",
                                "postal_code": "00-001",
                                "city": "Warszawa",
                            },
                            "meter_serials": [serial],
                        },
                    ),
                )
        headers = {
            c: {"Authorization": f"Bearer {tokens.customer(c)}"} for c, *_ in rows[: args.meters]
        }

        failures: list[str] = []
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=args.concurrency)
        ) as http:
            # Warm up: the key fetch, the pool's connections, the first plans.
            warm = await http.get(f"{base}/me/meters", headers=next(iter(headers.values())))
            assert warm.status == 200, await warm.text()

            def submit(row: tuple[str, str, str, str, dt.date]) -> Callable[[], Awaitable[None]]:
                client, _, serial, value, day = row

                async def job() -> None:
                    async with http.post(
                        f"{base}/me/meters/{serial}/readings",
                        json={"value": value, "read_on": day.isoformat()},
                        headers=headers[client],
                    ) as response:
                        if response.status != 201:
                            failures.append(f"{response.status} {await response.text()}")

                return job

            # Per meter the readings must go in date order: one worker chain per meter.
            by_meter: dict[str, list[Callable[[], Awaitable[None]]]] = {}
            for row in rows:
                by_meter.setdefault(row[2], []).append(submit(row))
            chains = list(by_meter.values())
            service_elapsed, service_lat, done = await _run_chains(
                chains, args.concurrency, args.seconds
            )
        relayed_at = time.perf_counter()
        while await pool.fetchval("SELECT count(*) FROM outbox"):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        drain = time.perf_counter() - relayed_at
        recorded = await pool.fetchval("SELECT count(*) FROM readings")

        # Bare asyncpg: the same rows (as many as the service took), same concurrency.
        await pool.execute(BARE_TABLE)
        bare_rows = rows[:done]
        bare_pool = await asyncpg.create_pool(
            dsn, min_size=args.concurrency, max_size=args.concurrency
        )
        try:

            def insert(row: tuple[str, str, str, str, dt.date]) -> Callable[[], Awaitable[None]]:
                client, contract, serial, value, day = row

                async def job() -> None:
                    await bare_pool.execute(
                        BARE_INSERT,
                        uuid.uuid4(),
                        serial,
                        contract,
                        client,
                        Decimal(value),
                        day,
                        f"customer:{client}",
                    )

                return job

            bare_elapsed, bare_lat, _ = await timed(
                [insert(r) for r in bare_rows], args.concurrency, args.seconds
            )
        finally:
            await bare_pool.close()
    finally:
        if runner is not None:
            await runner.cleanup()
        await tokens.stop()
        await _remove_bus_objects(prefix)
        await db.drop_database(PG_ADMIN, name)
        clock.reset()

    service = summary(
        "service: POST reading (rules + row + event via outbox)", service_elapsed, service_lat
    )
    bare = summary("bare asyncpg INSERT of the same rows", bare_elapsed, bare_lat)
    return {
        "service": service,
        "bare": bare,
        "ratio_bare_to_service": round(bare["per_second"] / service["per_second"], 2)
        if service["per_second"]
        else None,
        "outbox_drained_after_s": round(drain, 3),
        "readings_recorded": recorded,
        "failures": failures[:5],
        "failure_count": len(failures),
        "concurrency": args.concurrency,
        "meters": args.meters,
    }


async def _run_chains(
    chains: list[list[Callable[[], Awaitable[None]]]], concurrency: int, seconds: float
) -> tuple[float, list[float], int]:
    """Like ``timed``, but each chain (one meter) is taken by one worker at a time, in order."""
    latencies: list[float] = []
    waiting = list(reversed(chains))
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while waiting and time.perf_counter() < deadline:
            chain = waiting.pop()
            for job in chain:
                if time.perf_counter() >= deadline:
                    return
                started = time.perf_counter()
                await job()
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, len(latencies)


async def _remove_bus_objects(prefix: str) -> None:
    topology = Topology(prefix)
    with contextlib.suppress(Exception):
        connection = await aio_pika.connect(AMQP)
        try:
            channel = await connection.channel()
            queues = [
                topology.queue("readings"),
                topology.dead_letter_queue("readings"),
                topology.queue(BACKOFFICE_QUEUE),
            ]
            queues += [
                topology.retry_queue("readings", t) for t in range(1, len(RetryPolicy().delays) + 1)
            ]
            for queue in queues:
                await channel.queue_delete(queue, if_unused=False, if_empty=False)
            for producer in ("readings", "billing", "auth"):
                await channel.exchange_delete(topology.exchange(producer), if_unused=False)
        finally:
            await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readings", type=int, default=1500)
    parser.add_argument("--meters", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0, help="time budget per phase")
    args = parser.parse_args()
    if args.meters < args.concurrency:
        parser.error("--meters must be at least --concurrency (a meter is read in order)")
    result = asyncio.run(run(args))
    for part in ("service", "bare"):
        r = result[part]
        print(
            f"{r['what']}: {r['rows']} rows in {r['seconds']} s = {r['per_second']}/s, "
            f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms"
        )
    print(
        f"ratio bare/service: {result['ratio_bare_to_service']}; outbox drained "
        f"{result['outbox_drained_after_s']} s after the last request; "
        f"failures: {result['failure_count']}"
    )
    print(json.dumps(result), file=sys.stderr if os.environ.get("BENCH_QUIET") else sys.stdout)
    if result["failure_count"]:
        raise SystemExit(1)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
