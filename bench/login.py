"""Login benchmark: logins/s through the auth service against the raw argon2id limit of this
machine, measured in the same run, and login latency (p50/p99).

    .venv/bin/python bench/login.py [--seconds S] [--concurrency C]

(a) raw: argon2id verifications with the production (OWASP) parameters on as many threads as
    there are cores, as fast as they go: no login can be faster than this.
(b) service: a real ``python -m ebok_auth serve`` process (production hashing parameters) and
    C concurrent clients posting ``POST /sessions`` for one account, each login verified,
    audited and answered with a signed token and a stored refresh token. The clients are
    the lean kept-alive load of bench/lean_http.py, and a login counts when its answer
    comes within the window (see ``service_rate``).

Both sides run on the same cores; CPU per login is printed by part (auth's event loop, its
argon2 threads, PostgreSQL, the load) beside the raw verification's.

Target: (b) at least 0.8 of (a). It makes its own database and bus prefix, starts and stops
the service itself, and removes both afterwards; it finishes within a minute.
PostgreSQL and RabbitMQ: ``EBOK_TEST_PG_DSN`` / ``EBOK_TEST_AMQP_URL`` or the local servers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.auth.process: starting and stopping the real service

import aio_pika  # noqa: E402
import argon2  # noqa: E402
import report  # noqa: E402  # bench/report.py, beside this script
from ebok_auth.settings import OWASP_MEMORY_KIB, OWASP_TIME_COST  # noqa: E402
from ebok_shared import db  # noqa: E402
from ebok_shared.bus import Topology  # noqa: E402
from lean_http import KeepAliveClient  # noqa: E402  # bench/lean_http.py, beside this script

from deploy.plan import StackConfig  # noqa: E402
from tests.support.infra import dsn_for  # noqa: E402
from tests.support.process import service_process  # noqa: E402

PG = os.environ.get("EBOK_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP = os.environ.get("EBOK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
LOGIN, PASSWORD = "100001", "Benchmark-Haslo-2026"
HASHER = argon2.PasswordHasher(
    time_cost=OWASP_TIME_COST, memory_cost=OWASP_MEMORY_KIB, parallelism=1
)


def raw_rate(seconds: float, threads: int) -> tuple[float, float]:
    """argon2id verifications per second on ``threads`` threads (argon2-cffi drops the GIL),
    and the CPU seconds each took."""
    stored = HASHER.hash(PASSWORD)
    deadline = time.perf_counter() + seconds

    def work() -> int:
        n = 0
        while time.perf_counter() < deadline:
            HASHER.verify(stored, PASSWORD)
            n += 1
        return n

    started, cpu = time.perf_counter(), report.own_cpu()
    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(lambda _: work(), range(threads)))
    return total / (time.perf_counter() - started), (report.own_cpu() - cpu) / max(1, total)


@dataclass
class Measured:
    """The service's window: logins answered in it, and the CPU each side spent in it."""

    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    loop_cpu: float = 0.0  # the auth process's main thread: the event loop
    hashing_cpu: float = 0.0  # its other threads: argon2 (and any executor work)
    database_cpu: float = 0.0  # the PostgreSQL backends serving the benchmark's database
    client_cpu: float = 0.0  # this process: the load


async def service_rate(
    url: str, pid: int, database: str, seconds: float, warmup: float, concurrency: int
) -> Measured:
    """``concurrency`` callers posting logins over kept-alive connections (bench/lean_http.py:
    the raw side has no HTTP client, so the load generator's own CPU on the same cores is
    kept as small as it can be; aiohttp's client took ~1.1 ms of CPU per login).

    A login counts in the window when its answer comes within it, whenever it was asked:
    the rate of answers in a steady state. (Counting only the logins both asked and answered
    within the window missed the ones in flight at either edge — about one latency's worth of
    logins, ~1 % of a 10 s window — while the raw side counts every verification its
    threads finish, over the time they took.)"""
    measured = Measured()
    host, port = url.removeprefix("http://").rsplit(":", 1)
    client = KeepAliveClient(host, int(port), {"Content-Type": "application/json"})
    await client.open(concurrency)
    body = json.dumps({"login": LOGIN, "password": PASSWORD}).encode()
    loop = asyncio.get_running_loop()
    start = loop.time() + warmup
    end = start + seconds

    def sample(backends: list[int]) -> tuple[float, float, float, float]:
        main, every = _thread_cpu(pid)
        return main, every - main, report.cpu_seconds(*backends), report.own_cpu()

    async def sampler() -> None:
        await asyncio.sleep(start - loop.time())
        backends = await _backends(database)  # after the warm-up: the pool has grown
        first = sample(backends)
        await asyncio.sleep(end - loop.time())
        last = sample(backends)
        measured.loop_cpu, measured.hashing_cpu, measured.database_cpu, measured.client_cpu = (
            b - a for a, b in zip(first, last, strict=True)
        )

    async def caller() -> None:
        while (asked := loop.time()) < end:
            status, _ = await client.post("/sessions", body)
            done = loop.time()
            if start <= done < end:
                if status == 201:
                    measured.latencies.append(done - asked)
                else:
                    measured.failures += 1

    try:
        await asyncio.gather(sampler(), *(caller() for _ in range(concurrency)))
    finally:
        await client.close()
    return measured


def _thread_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of ``pid``'s main thread (its event loop) and of the whole process."""
    return report.cpu_seconds_of(f"/proc/{pid}/task/{pid}/stat"), report.cpu_seconds(pid)


async def _backends(database: str) -> list[int]:
    """The PostgreSQL backends connected to ``database``: the service's pool (on this
    machine, so their CPU time is readable)."""
    conn = await db.connect(PG)
    try:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
    finally:
        await conn.close()
    return [int(r["pid"]) for r in rows]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--raw-seconds", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=2 * (os.cpu_count() or 2) + 2)
    args = parser.parse_args()
    cores = os.cpu_count() or 2
    name = f"ebok_bench_auth_{uuid.uuid4().hex[:8]}"
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    await db.ensure_database(PG, name)
    dsn = dsn_for(PG, name)
    try:
        env = {
            "EBOK_DATABASE_URL": dsn,
            "EBOK_AMQP_URL": AMQP,
            "EBOK_BUS_PREFIX": prefix,
            "EBOK_LOG_LEVEL": "WARNING",
            "EBOK_DB_POOL_MAX": "20",
            "EBOK_TOTP_KEYS": StackConfig().totp_keys,  # the local run's (known) key
            "EBOK_AUDIT_KEYS": StackConfig().audit_keys,
        }
        async with service_process("auth", env) as proc:
            conn = await db.connect(dsn)
            try:  # one active account with its own password (no restriction on its tokens)
                await conn.execute(
                    "INSERT INTO accounts (client_number, email, status, password_hash,"
                    " created_at, activated_at) VALUES ($1, 'bench@example.pl', 'active', $2,"
                    " now(), now())",
                    LOGIN,
                    HASHER.hash(PASSWORD),
                )
                await conn.execute(
                    "INSERT INTO regulations_acceptances (client_number, version, accepted_at,"
                    " context) VALUES ($1, 1, now(), 'registration')",
                    LOGIN,
                )
            finally:
                await conn.close()
            # Raw before and after the service run (the service idle meanwhile), averaged:
            # on a shared machine the load drifts, and both figures must see the same.
            raw_before, raw_cpu = raw_rate(args.raw_seconds / 2, cores)
            assert proc.pid is not None
            measured = await service_rate(
                proc.url, proc.pid, name, args.seconds, 2.0, args.concurrency
            )
            raw_after, raw_cpu_after = raw_rate(args.raw_seconds / 2, cores)
            raw = (raw_before + raw_after) / 2
            raw_cpu = (raw_cpu + raw_cpu_after) / 2
    finally:
        await db.drop_database(PG, name)
        await _remove_bus(prefix)
    latencies, failures = sorted(measured.latencies), measured.failures
    rate = len(latencies) / args.seconds
    answered = max(1, len(latencies) + failures)
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    print(f"cores: {cores}; argon2id m={OWASP_MEMORY_KIB} KiB t={OWASP_TIME_COST} p=1")
    print(f"raw argon2id verifications/s ({cores} threads): {raw:8.1f}")
    print(
        f"logins/s through auth (c={args.concurrency}):      {rate:8.1f}"
        f"   ({len(latencies)} in {args.seconds:.0f} s, {failures} failed)"
    )
    per_login = (measured.loop_cpu + measured.hashing_cpu) / answered * 1e6
    print(
        f"CPU per login (auth process): {per_login:.0f} µs; per raw verification:"
        f" {raw_cpu * 1e6:.0f} µs"
    )
    # Where a login's CPU goes besides argon2, on the same cores (10 ms ticks of /proc:
    # steady over a whole window, not per login).
    print(
        "CPU per login by part: auth event loop"
        f" {measured.loop_cpu / answered * 1e6:.0f} µs, auth's other threads (argon2)"
        f" {measured.hashing_cpu / answered * 1e6:.0f} µs, PostgreSQL"
        f" {measured.database_cpu / answered * 1e6:.0f} µs, the load (this process)"
        f" {measured.client_cpu / answered * 1e6:.0f} µs"
    )
    # What the ratio comes to where CPU is the only limit (the two cores busy with this
    # alone): argon2's share of all the CPU a login costs. Steadier than the rates on a
    # shared machine, where other work takes the cores by chance; the verdict stays the rates'.
    spent = measured.loop_cpu + measured.hashing_cpu + measured.database_cpu + measured.client_cpu
    print(f"argon2's share of a login's CPU (all parts): {measured.hashing_cpu / (spent or 1):.2f}")
    if latencies:
        print(
            f"latency ms: p50 {p(0.5):.1f}  p99 {p(0.99):.1f}  max {latencies[-1] * 1000:.1f}"
            f"  mean {statistics.fmean(latencies) * 1000:.1f}"
        )
    report.ratio("login", rate, raw, 0.8, "logins/s", cpu_us=per_login, limit_cpu_us=raw_cpu * 1e6)


async def _remove_bus(prefix: str) -> None:
    topology = Topology(prefix)
    connection = await aio_pika.connect(AMQP)
    try:
        channel = await connection.channel()
        for name in ("", ".dlq", ".retry.1", ".retry.2", ".retry.3"):
            with contextlib.suppress(Exception):
                queue = await channel.get_queue(topology.queue("auth") + name, ensure=False)
                await queue.delete(if_unused=False, if_empty=False)
        for producer in ("auth", "billing"):
            with contextlib.suppress(Exception):
                await channel.exchange_delete(topology.exchange(producer))
    finally:
        await connection.close()


if __name__ == "__main__":
    asyncio.run(main())
