"""Readings benchmark: customers' readings submitted per second through the readings service,
next to bare asyncpg inserts of the same rows measured in the same run; CPU per request.

Service: each request is a customer's ``POST /me/meters/{serial}/readings`` with a bearer
token, as the gateway forwards it: token check, the reading's rules (the meter locked, the
reading window, dates, previous reading, plausibility against the meter's own history), the
reading row and its ``readings.reading.accepted`` event in the outbox, in one transaction.
The service's relay publishes the events to the broker meanwhile; the run waits until the
outbox is empty and says how long that took. The service runs as deploy/ runs it (see
deploy/manifests.py): the ``api`` role answering HTTP, the ``relay`` role publishing the
outbox and the ``worker`` role consuming the bus, each its own process. CPU per request is
the api process's (user + system) over its slices; the relay's and the worker's CPU over the
same phase are printed beside it (they are on the machine too, but not on the request's path),
as are the load generator's (bench/lean_http.py, as for the reads) and the PostgreSQL
backends' of the service's database.

Bare: the same rows (of more meters, so that they last) inserted by asyncpg with the same
concurrency, each in one transaction of two INSERTs: the reading into a table like
``readings`` and the event's envelope into a table like ``outbox``. No HTTP, no token, no
rules. CPU per row is the bench process's (the asyncpg client side).

The two sides run in alternating slices of ``--slice`` seconds (ours, bare, ours, bare…;
bench/slices.py's ``interleaved``), each for ``--seconds`` in all, after half a second of
warm-up each: one side run after the other met PostgreSQL's checkpoints and the machine's
other load by chance (the bare side measured 2,566 and 3,521 a second in two quiet runs of
the same code). A side's rate is its calls' work within its slices (``run_for``). Ratio =
service / bare (readings a second). Then reads of the rows just written, alternating
likewise for a few seconds a side: a meter's history (first page) and the monthly
consumption, through the service (loaded by bench/lean_http.py) and by bare asyncpg with the
service's statements.

Starts what it measures (a scratch database, the readings service's three processes on
free ports, a stand-in token issuer, a bus prefix of its own on the local RabbitMQ) and stops
it all again; finishes within a minute.
Run: ``.venv/bin/python bench/readings.py [--seconds 8] [--concurrency 8] [--meters 32]
[--slice 1]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
import asyncpg
import jwt
import report  # bench/report.py, beside this script
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ebok_readings.app import SPEC
from ebok_readings.clients.use_cases import contract_concluded
from ebok_readings.events import CONTRACT_CONCLUDED, READING_ACCEPTED
from ebok_readings.readings import repository as readings_repo
from ebok_readings.settings import ReadingsSettings
from ebok_shared import db, logs
from ebok_shared.bus import Event, Topology
from ebok_shared.bus.envelope import encode
from ebok_shared.http.params import DEFAULT_PAGE_SIZE
from ebok_shared.service import migration_folders
from lean_http import KeepAliveClient  # bench/lean_http.py, beside this script
from slices import Side, in_turn, interleaved, run_for  # bench/slices.py, beside this script

ADMIN_DSN = os.environ.get("EBOK_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("EBOK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
TARGET = 0.3
READ_TARGET = 0.4  # reads of the same rows, of bare asyncpg (issue 17)
READ_SECONDS = 3.0  # per side and read
WARM_SECONDS = 0.5  # per side, before the submits' slices
BARE_METERS = 4  # the bare side's meters, per meter of the service's
# What a customer's reads ask, bare: a meter's first page of history with its total (the
# service's own statement, ``client_readings_page``: the paging envelope names the total, so
# every register of the meter is counted), and the readings the monthly consumption is
# derived from (the service's statement, without the service).
BARE_CONSUMPTION = """SELECT r.meter_serial, m.kind, r.value, r.read_on, r.role
    FROM readings r JOIN meters m ON m.serial = r.meter_serial
    WHERE r.client_number = $1 AND r.status = 'accepted' AND r.superseded_at IS NULL
    ORDER BY r.meter_serial, read_on,
    CASE role WHEN 'initial' THEN 0 WHEN 'regular' THEN 1 ELSE 2 END, submitted_at, id"""
CONCLUDED_ON = dt.date(2021, 1, 15)
FIRST_DAY = dt.date(2024, 2, 1)
DAILY = Decimal("0.250")  # a steady consumption: every reading passes without confirmation
# Each meter's past before the run: a reading on the first of every month since its contract
# began (36), as a meter of a few years has them, the database's statistics then gathered
# (as autovacuum keeps them). Without it, a brand-new and never-analysed readings table gave
# the planner row counts of an empty one, whose plans (a bitmap scan and sort of every
# register of the meter where an index scan stops at the first) are never met in production
# and made each reading dearer than the one before as the run added hundreds per meter.
HISTORY_MONTHS = 36

BARE_TABLES = (
    "CREATE TABLE bare_readings (LIKE readings INCLUDING ALL)",
    "CREATE TABLE bare_outbox (LIKE outbox INCLUDING ALL)",
)
BARE_READING = """
INSERT INTO bare_readings (id, meter_serial, contract_number, client_number, value, read_on,
    source, role, status, unusual, daily_m3, baseline_m3, leak_suspected, submitted_by,
    submitted_at)
VALUES ($1, $2, $3, $4, $5, $6, 'customer', 'regular', 'accepted', false, $7, $7, false, $8,
    now())
"""
BARE_EVENT = """
INSERT INTO bare_outbox (event_id, event_type, aggregate_key, body) VALUES ($1, $2, $3, $4)
"""

Row = tuple[str, str, str, Decimal, dt.date]  # client, contract, serial, value, day


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Issuer:
    """A stand-in JWKS endpoint and customer tokens, signed the way auth signs them."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.kid = uuid.uuid4().hex[:12]
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.key.public_key()))
        body = {"keys": [{**jwk, "kid": self.kid, "alg": "EdDSA", "use": "sig"}]}

        async def jwks(_: web.Request) -> web.Response:
            return web.json_response(body)

        app = web.Application()
        app.router.add_get("/jwks.json", jwks)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        port = _free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/jwks.json"

    def token(self, subject: str) -> str:
        now = int(time.time())
        claims = {
            "iss": "ebok-auth",
            "aud": "ebok",
            "sub": subject,
            "kind": "customer",
            "iat": now,
            "exp": now + 3600,
            "sid": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": self.kid})

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def meter_value(day: dt.date) -> Decimal:
    """What each meter shows on ``day``: a steady ``DAILY`` since its contract began."""
    return Decimal("100.000") + DAILY * (day - CONCLUDED_ON).days


def history_days() -> list[dt.date]:
    """The days of each meter's readings before the run (``HISTORY_MONTHS``)."""
    first = CONCLUDED_ON.replace(day=1)
    months = (first.month - 1 + k for k in range(1, HISTORY_MONTHS + 1))
    return [dt.date(first.year + m // 12, m % 12 + 1, 1) for m in months]


def plan(meters: int, days: int) -> list[list[Row]]:
    """Per meter, its readings on successive days (a meter's readings go in date order)."""
    chains = []
    for m in range(meters):
        client = f"{500000 + m:06d}"
        contract, serial = f"U/{client}/2024", f"WM-{client}-1"
        chains.append(
            [
                (
                    client,
                    contract,
                    serial,
                    meter_value(FIRST_DAY + dt.timedelta(d)),
                    FIRST_DAY + dt.timedelta(d),
                )
                for d in range(days)
            ]
        )
    return chains


def line(what: str, result: dict[str, Any], cpu_of: str) -> tuple[float, float]:
    """Prints the side's figures (``interleaved``'s result); its rate and CPU µs per
    request."""
    print(
        f"  {what:<44} {result['per_second']:8.1f}/s  p50 {result['p50_ms']:6.1f} ms"
        f"  p99 {result['p99_ms']:6.1f} ms  (n={result['ops']})\n"
        f"  {'':<44} CPU {result['cpu_us']:7.0f} µs per request ({cpu_of})",
        flush=True,
    )
    return float(result["per_second"]), float(result["cpu_us"])


async def seed(dsn: str, chains: list[list[Row]]) -> None:
    """The service's schema, each meter's contract as billing's event leaves it and its
    readings before the run (``HISTORY_MONTHS``), the statistics gathered."""
    conn = await asyncpg.connect(dsn)
    try:
        await db.migrate(conn, migration_folders(SPEC))
        async with conn.transaction():
            for client, contract, serial, _, _ in (chain[0] for chain in chains):
                payload = {
                    "contract_number": contract,
                    "client_number": client,
                    "concluded_on": CONCLUDED_ON.isoformat(),
                    "tariff_group": "G1",
                    "supply_address": {
                        "street": "ul. Testowa 1",
                        "postal_code": "00-001",
                        "city": "Warszawa",
                    },
                    "meter_serials": [serial],
                }
                await contract_concluded(conn, Event.new(CONTRACT_CONCLUDED, payload))
            await conn.executemany(
                "INSERT INTO readings (id, meter_serial, contract_number, client_number, value,"
                " read_on, source, role, status, daily_m3, baseline_m3, submitted_by,"
                " submitted_at) VALUES ($1, $2, $3, $4, $5, $6, 'customer', 'regular',"
                " 'accepted', $7, $7, $8, $9)",
                [
                    (
                        uuid.uuid4(),
                        serial,
                        contract,
                        client,
                        meter_value(day),
                        day,
                        DAILY,
                        f"customer:{client}",
                        dt.datetime.combine(day, dt.time(12), dt.UTC),
                    )
                    for client, contract, serial, _, _ in (chain[0] for chain in chains)
                    for day in history_days()
                ],
            )
        for sql in BARE_TABLES:
            await conn.execute(sql)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


# The roles deploy/ runs as separate Deployments (deploy/manifests.py: readings' api, worker
# and relay). The api role is the one measured: HTTP only, no broker connection.
ROLES = ("api", "relay", "worker")


@contextlib.asynccontextmanager
async def service(
    env: dict[str, str], port: int, role: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """One role of the readings service as its own process (started, not yet ready);
    stopped at the end."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ebok_readings",
        "serve",
        "--role",
        role,
        env={**os.environ, **env, "EBOK_HTTP_PORT": str(port), "EBOK_HTTP_HOST": "127.0.0.1"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def ready(proc: asyncio.subprocess.Process, port: int, timeout: float = 60.0) -> float:
    """Wait until the service answers ready; how long that took (a busy machine is slow to
    import and connect)."""
    started = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        while time.perf_counter() - started < timeout:
            if proc.returncode is not None:
                err = (await proc.stderr.read()).decode() if proc.stderr else ""
                raise RuntimeError(f"readings service exited: {err[-2000:]}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/health/ready") as resp:
                    if resp.status == 200:
                        return time.perf_counter() - started
            await asyncio.sleep(0.1)
    raise RuntimeError("readings service did not get ready")


async def remove_bus_objects(prefix: str) -> None:
    topology = Topology(prefix)
    tiers = len(ReadingsSettings.retry_delays)
    queues = [
        topology.queue("readings"),
        topology.dead_letter_queue("readings"),
        topology.backoffice_queue("readings"),
        *(topology.retry_queue("readings", t) for t in range(1, tiers + 1)),
    ]
    with contextlib.suppress(Exception):
        connection = await aio_pika.connect(AMQP_URL)
        try:
            channel = await connection.channel()
            for queue in queues:
                await channel.queue_delete(queue, if_unused=False, if_empty=False)
            for producer in ("readings", "billing", "auth"):
                await channel.exchange_delete(topology.exchange(producer), if_unused=False)
        finally:
            await connection.close()


async def reads(
    port: int,
    pid: int,
    pool: asyncpg.Pool,
    chains: list[list[Row]],
    headers: dict[str, dict[str, str]],
    concurrency: int,
    slice_seconds: float,
) -> list[tuple[str, float, float, float, float]]:
    """A meter's history and the consumption, through the service and bare, each side for
    ``READ_SECONDS`` in alternating slices with ``concurrency`` callers over the
    benchmark's customers in turn: (name, service rate, bare rate, service CPU µs, bare CPU
    µs) per read."""
    http = KeepAliveClient("127.0.0.1", port)
    await http.open(concurrency)
    customers = [(c[0][0], c[0][2]) for c in chains]  # (client, serial)

    async def ask(path: str, client: str) -> None:
        status, _ = await http.get(path, headers[client])
        assert status == 200, status

    async def history(n: int) -> None:
        client, serial = customers[n % len(customers)]
        await ask(f"/me/meters/{serial}/readings", client)

    async def consumption(n: int) -> None:
        client, _ = customers[n % len(customers)]
        await ask("/me/consumption", client)

    async def bare_history(n: int) -> None:
        client, serial = customers[n % len(customers)]
        async with pool.acquire() as conn:
            await readings_repo.client_readings_page(conn, serial, client, DEFAULT_PAGE_SIZE, 0)

    async def bare_consumption(n: int) -> None:
        client, _ = customers[n % len(customers)]
        async with pool.acquire() as conn:
            await conn.fetch(BARE_CONSUMPTION, client)

    results = []
    try:
        for name, ours, bare in (
            ("readings-history", history, bare_history),
            ("readings-consumption", consumption, bare_consumption),
        ):
            service_side, bare_side = await interleaved(
                READ_SECONDS,
                slice_seconds,
                concurrency,
                Side(name, ours, lambda: cpu_seconds(pid)),
                Side(f"bare {name}", bare, report.own_cpu),
            )
            rate, cpu = service_side["per_second"], service_side["cpu_us"]
            bare_rate, bare_cpu = bare_side["per_second"], bare_side["cpu_us"]
            print(
                f"  {name:<22} service {rate:8.1f}/s  CPU {cpu:5.0f} µs per request"
                f" (api process);  bare asyncpg {bare_rate:8.1f}/s  CPU {bare_cpu:5.0f} µs",
                flush=True,
            )
            results.append((name, rate, bare_rate, cpu, bare_cpu))
    finally:
        await http.close()
    return results


async def main(args: argparse.Namespace) -> bool:
    logs.configure("bench", "WARNING")
    run_id = uuid.uuid4().hex[:8]
    database, prefix = f"ebok_bench_{run_id}", f"bench{run_id}."
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + "/" + database
    days = (dt.date.today() - FIRST_DAY).days  # the service's clock is the real one
    chains = plan(args.meters, days)
    # The bare side's rows: the same rows, of more meters (bare rows need no contract), so
    # that a bare side several times faster than the service does not use them up.
    bare_chains = plan(args.meters * BARE_METERS, days)
    await db.ensure_database(ADMIN_DSN, database)
    issuer = Issuer()
    try:
        await issuer.start()
        env = {
            "EBOK_DATABASE_URL": dsn,
            "EBOK_AMQP_URL": AMQP_URL,
            "EBOK_BUS_PREFIX": prefix,
            "EBOK_JWKS_URL": issuer.url,
            "EBOK_LOG_LEVEL": "WARNING",
            "EBOK_DB_POOL_MAX": str(args.concurrency + 2),
            "EBOK_SCHEDULER_ENABLED": "false",
        }
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        headers = {
            chain[0][0]: {"Authorization": f"Bearer {issuer.token(chain[0][0])}"}
            for chain in chains
        }
        failures: list[str] = []
        print(
            f"readings: {args.meters} meters, {args.concurrency} concurrent customers, "
            f"{args.seconds:.0f} s per side in slices of {args.slice:g} s; "
            f"cores: {os.cpu_count()}",
            flush=True,
        )
        async with contextlib.AsyncExitStack() as stack:
            ports = {role: port if role == "api" else _free_port() for role in ROLES}
            procs = {
                role: await stack.enter_async_context(service(env, ports[role], role))
                for role in ROLES
            }
            http = await stack.enter_async_context(
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency))
            )
            # The service starts (and migrates) while the meters' contracts are put in.
            await seed(dsn, chains)
            waited = [await ready(procs[role], ports[role]) for role in ROLES]
            print(f"  service ready after {max(waited):.1f} s ({', '.join(ROLES)})", flush=True)
            pid = procs["api"].pid
            others = {role: procs[role].pid for role in ROLES if role != "api"}

            # Warm up: the key fetch, the pool's connections, the first plans. At once, so
            # that the pool opens as many connections as the load will use (one at a time
            # left all but one to be opened, TLS context and all, inside the timed phase,
            # where the bare side's pool is opened before its timing).
            async def warm(value: dict[str, str]) -> None:
                async with http.get(f"{base}/me/meters", headers=value) as resp:
                    assert resp.status == 200, await resp.text()

            first = list(headers.values())[: args.concurrency]
            await warm(first[0])  # the key fetch, once
            await asyncio.gather(*(warm(value) for value in first))

            # The submits, loaded as the reads are (bench/lean_http.py): aiohttp's client
            # spent about half as much CPU per request as the service, on the same two cores
            # as the service, its database and its relay, while the bare side's load is
            # asyncpg's own; the client's CPU per request is printed below.
            lean = KeepAliveClient("127.0.0.1", port, {"Content-Type": "application/json"})
            await lean.open(args.concurrency)
            stack.push_async_callback(lean.close)

            async def submit(row: Row) -> None:
                client, _, serial, value, day = row
                status, body = await lean.post(
                    f"/me/meters/{serial}/readings",
                    f'{{"value":"{value:.3f}","read_on":"{day.isoformat()}"}}'.encode(),
                    headers[client],
                )
                if status != 201:
                    failures.append(f"{status} {body.decode(errors='replace')}")

            # The service's backends, before the bare side's pool joins the same database.
            admin = await asyncpg.connect(ADMIN_DSN)
            try:
                backends = [
                    r["pid"]
                    for r in await admin.fetch(
                        "SELECT pid FROM pg_stat_activity WHERE datname = $1", database
                    )
                ]
            finally:
                await admin.close()
            pool = await asyncpg.create_pool(
                dsn, min_size=args.concurrency, max_size=args.concurrency
            )
            assert pool is not None
            stack.push_async_callback(pool.close)

            # Bare: the same rows, each reading with its event's envelope, in one transaction.
            async def insert(row: Row) -> None:
                client, contract, serial, value, day = row
                reading_id = uuid.uuid4()
                event = Event.new(
                    READING_ACCEPTED,
                    {
                        "reading_id": str(reading_id),
                        "meter_serial": serial,
                        "contract_number": contract,
                        "client_number": client,
                        "value": f"{value:.3f}",
                        "read_on": day.isoformat(),
                        "kind": "main",
                    },
                )
                async with pool.acquire() as conn, conn.transaction():
                    await conn.execute(
                        BARE_READING,
                        reading_id,
                        serial,
                        contract,
                        client,
                        value,
                        day,
                        DAILY,
                        f"customer:{client}",
                    )
                    await conn.execute(
                        BARE_EVENT,
                        event.id,
                        event.type,
                        f"client:{client}",
                        encode(event.to_dict()),
                    )

            ours, bare = in_turn(chains, submit), in_turn(bare_chains, insert)
            # Warm-up of both: the service's statements prepared on each of its connections,
            # the bare side's on its pool's.
            await run_for(WARM_SECONDS, args.concurrency, ours)
            await run_for(WARM_SECONDS, args.concurrency, bare)
            others_cpu = {role: cpu_seconds(other) for role, other in others.items()}
            service_side, bare_side = await interleaved(
                args.seconds,
                args.slice,
                args.concurrency,
                Side(
                    "service",
                    ours,
                    lambda: cpu_seconds(pid),
                    others={
                        "client": report.own_cpu,
                        "backends": lambda: report.cpu_seconds(*backends),
                    },
                ),
                Side("bare", bare, report.own_cpu),
            )
            service_rate, service_cpu = line(
                "service: POST reading (token, rules, row + event)",
                service_side,
                "api process",
            )
            print(
                f"  {'':<44} CPU {service_side['client_cpu_us']:7.0f} µs per request"
                " (bench process, the HTTP client);"
                f" {service_side['backends_cpu_us']:5.0f} µs"
                f" (the service's {len(backends)} PostgreSQL backends)",
                flush=True,
            )
            drained_from = time.perf_counter()
            while await pool.fetchval("SELECT count(*) FROM outbox"):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            drained = time.perf_counter() - drained_from
            # The other roles' share, over both sides' slices and the outbox's draining.
            print(
                "  "
                + ";  ".join(
                    f"{role} process CPU "
                    f"{(cpu_seconds(other) - others_cpu[role]) / service_side['ops'] * 1e6:5.0f}"
                    " µs per reading"
                    for role, other in others.items()
                ),
                flush=True,
            )
            bare_rate, bare_cpu = line(
                "bare asyncpg: INSERT reading + outbox, one tx",
                bare_side,
                "bench process, asyncpg",
            )
            print(
                f"  outbox drained {drained:.2f} s after the last slice; "
                f"failures: {len(failures)}"
                + (f" (first: {failures[0][:200]})" if failures else ""),
                flush=True,
            )
            # Reads of the rows just written: a meter's history, the consumption.
            read_results = await reads(
                port, pid, pool, chains, headers, args.concurrency, args.slice
            )
        report.ratio(
            "readings-submit",
            service_rate,
            bare_rate,
            TARGET,
            "req/s",
            cpu_us=service_cpu,
            limit_cpu_us=bare_cpu,
        )
        for name, rate, bare_read_rate, read_cpu, bare_read_cpu in read_results:
            report.ratio(
                name,
                rate,
                bare_read_rate,
                READ_TARGET,
                "req/s",
                cpu_us=read_cpu,
                limit_cpu_us=bare_read_cpu,
            )
        return not failures
    finally:
        await issuer.stop()
        await remove_bus_objects(prefix)
        await db.drop_database(ADMIN_DSN, database)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="time budget per side")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--meters", type=int, default=32)
    parser.add_argument(
        "--slice", type=float, default=1.0, help="seconds of one side before the other's turn"
    )
    arguments = parser.parse_args()
    if arguments.meters < arguments.concurrency:
        parser.error("--meters must be at least --concurrency (a meter is read in order)")
    if not asyncio.run(main(arguments)):
        raise SystemExit(1)
