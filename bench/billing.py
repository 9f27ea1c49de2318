"""Billing benchmark: invoice list and balance for a client with two years of history,
requests/s and p99 against the real service, next to a bare asyncpg query of the same rows
in the same run (the ratio shows what the service layer costs); PDF copies per second.

Starts what it measures (a scratch database loaded with demo data through the feed, a
stand-in token issuer, the billing service as its own process on a free port) and stops it
all again. Finishes within a minute. Run: ``.venv/bin/python bench/billing.py``.

The service is asked over kept-alive plain HTTP/1.1 connections, one per concurrent caller
(bench/lean_http.py, the way wrk loads a server): the bare side's load is asyncpg, a client
in C, and both share this process and the machine's two cores with the service. Each line
prints the CPU per call of the service process and of this one (the client side);
``--client aiohttp`` loads the service through aiohttp's client instead, as before.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # deploy.demo_data: the demo generator, a development tool

import aio_pika  # noqa: E402
import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
import jwt  # noqa: E402
import report  # noqa: E402  # bench/report.py, beside this script
from aiohttp import web  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from ebok_shared import db, logs  # noqa: E402
from lean_http import KeepAliveClient  # noqa: E402  # bench/lean_http.py, beside it too

from deploy import demo_data  # noqa: E402

ADMIN_DSN = os.environ.get("EBOK_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("EBOK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")

TARGET = 0.4  # of bare asyncpg over the same rows (issue 17)
LIST_SQL = """SELECT invoice_number, issue_date, due_date, period_from, period_to, net, vat,
    gross, amount_paid, ksef_number, corrects, corrected, delivery
    FROM invoices WHERE client_number = $1
    ORDER BY issue_date DESC, invoice_number DESC LIMIT 20"""
BALANCE_SQL = (
    "SELECT invoice_number, gross, due_date, corrects FROM invoices WHERE client_number = $1",
    "SELECT invoice_number, paid_on, amount FROM payments WHERE client_number = $1"
    " ORDER BY paid_on, posted_at, payment_id",
    "SELECT coalesce(sum(amount), 0) FROM interest_notes WHERE client_number = $1",
)


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

    def token(self, subject: str, kind: str = "customer") -> str:
        now = int(time.time())
        claims = {
            "iss": "ebok-auth",
            "aud": "ebok",
            "sub": subject,
            "kind": kind,
            "iat": now,
            "exp": now + 3600,
        }
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": self.kid})

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def measure(
    name: str,
    call: Callable[[], Awaitable[object]],
    seconds: float,
    concurrency: int,
    pid: int | None = None,
) -> dict[str, float]:
    """``call`` repeated by ``concurrency`` workers for ``seconds``; with the CPU time per call
    of process ``pid`` (none: this one, the asyncpg client side) and of this process (the
    client side, whichever it is)."""
    cpu_of = (lambda: report.cpu_seconds(pid)) if pid is not None else report.own_cpu
    cpu, client_cpu = cpu_of(), report.own_cpu()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu, client_cpu = cpu_of() - cpu, report.own_cpu() - client_cpu
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    result = {
        "per_second": len(latencies) / elapsed,
        "p99_ms": p99 * 1000,
        "count": len(latencies),
        "cpu_us": cpu / max(1, len(latencies)) * 1e6,
        "client_cpu_us": client_cpu / max(1, len(latencies)) * 1e6,
    }
    print(
        f"  {name:<34} {result['per_second']:8.1f}/s   p99 {result['p99_ms']:7.1f} ms"
        f"   (n={len(latencies)})   CPU {result['cpu_us']:5.0f} µs per call"
        f" ({'service process' if pid is not None else 'asyncpg client'})"
        + (f", client {result['client_cpu_us']:.0f} µs" if pid is not None else ""),
        flush=True,
    )
    return result


Verdict = tuple[str, dict[str, float], dict[str, float]]  # name, ours, bare


async def main(clients: int, seconds: float, concurrency: int, client_kind: str) -> list[Verdict]:
    logs.configure("bench", "WARNING")
    run_id = uuid.uuid4().hex[:8]
    database = f"ebok_bench_{run_id}"
    prefix = f"bench{run_id}."
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + "/" + database
    await db.ensure_database(ADMIN_DSN, database)
    issuer, service, amqp = Issuer(), None, None
    try:
        t0 = time.perf_counter()
        data = demo_data.generate(clients, seed=1)
        with tempfile.TemporaryDirectory(prefix="ebok-bench-") as out:
            shards = demo_data.write_shards(data, Path(out), 1)  # one feed process, in order
            # Quiet: the feed's result lines are what the loader reads from its output.
            quiet = {**os.environ, "EBOK_LOG_LEVEL": "WARNING"}
            await asyncio.to_thread(demo_data.load, dsn, shards, quiet)
        # Planner statistics, as autovacuum gathers them within a minute of a load this size:
        # without them PostgreSQL guesses a handful of rows per table and picks plans no
        # running database would (the balance's allocations scanned whole, for both sides).
        admin = await asyncpg.connect(dsn)
        try:
            await admin.execute("ANALYZE")
        finally:
            await admin.close()
        client = data.demo_client.client_number
        print(
            f"loaded {clients} demo clients through the feed in "
            f"{time.perf_counter() - t0:.1f}s; measuring client {client}",
            flush=True,
        )

        # A sink for the events the load raised, so the relay has somewhere to put them.
        amqp = await aio_pika.connect_robust(AMQP_URL)
        channel = await amqp.channel()
        exchange = await channel.declare_exchange(
            f"{prefix}billing.events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        sink = await channel.declare_queue(
            exclusive=True, auto_delete=True, arguments={"x-max-length": 1}
        )
        await sink.bind(exchange, "#")

        await issuer.start()
        port = _free_port()
        env = {
            **os.environ,
            "EBOK_DATABASE_URL": dsn,
            "EBOK_AMQP_URL": AMQP_URL,
            "EBOK_BUS_PREFIX": prefix,
            "EBOK_HTTP_PORT": str(port),
            "EBOK_HTTP_HOST": "127.0.0.1",
            "EBOK_JWKS_URL": issuer.url,
            "EBOK_LOG_LEVEL": "WARNING",
            "EBOK_DB_POOL_MAX": "10",
        }
        service = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ebok_billing",
            "serve",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {issuer.token(client)}"}
        async with aiohttp.ClientSession(
            headers=headers, connector=aiohttp.TCPConnector(limit=concurrency * 2)
        ) as http:
            for _ in range(200):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{base}/health/ready") as resp:
                        if resp.status == 200:
                            break
                await asyncio.sleep(0.1)
            pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)
            assert pool is not None
            async with http.get(f"{base}/me/invoices?page_size=100") as resp:
                numbers = [i["invoice_number"] for i in (await resp.json())["items"]]

            lean = KeepAliveClient("127.0.0.1", port, headers)
            await lean.open(concurrency)

            async def get(path: str) -> None:
                if client_kind == "lean":
                    status, _ = await lean.get(path)
                    assert status == 200, status
                    return
                async with http.get(base + path) as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status

            async def bare_list() -> None:
                async with pool.acquire() as conn:
                    await conn.fetch(LIST_SQL, client)

            async def bare_balance() -> None:
                async with pool.acquire() as conn:
                    for sql in BALANCE_SQL:
                        await conn.fetch(sql, client)

            print(
                f"{len(numbers)} invoices of two years; {concurrency} concurrent callers, "
                f"{seconds:.0f}s each",
                flush=True,
            )
            pid = service.pid
            service_list = await measure(
                "GET /me/invoices (service)", lambda: get("/me/invoices"), seconds, concurrency, pid
            )
            bare_l = await measure("same rows, bare asyncpg", bare_list, seconds, concurrency)
            service_balance = await measure(
                "GET /me/balance (service)", lambda: get("/me/balance"), seconds, concurrency, pid
            )
            bare_b = await measure("same rows, bare asyncpg", bare_balance, seconds, concurrency)
            verdicts = [("billing-invoices", service_list, bare_l)]
            verdicts.append(("billing-balance", service_balance, bare_b))
            await pool.close()

            # PDF copies: each invoice once (rendered), then the same again (cached).
            rendered, started = 0, time.perf_counter()
            for number in numbers:
                await get(f"/me/invoices/{number}/pdf")
                rendered += 1
                if time.perf_counter() - started > seconds:
                    break
            cold = rendered / (time.perf_counter() - started)
            print(f"  PDF copies, rendered             {cold:8.1f}/s   (n={rendered})", flush=True)
            numbers = numbers[:rendered]
            position = 0

            async def cached_pdf() -> None:
                nonlocal position
                position += 1
                await get(f"/me/invoices/{numbers[position % len(numbers)]}/pdf")

            await measure(
                "PDF copies, same again (cached)", cached_pdf, seconds / 2, concurrency, pid
            )
            await lean.close()
    finally:
        if service is not None and service.returncode is None:
            service.terminate()
            try:
                await asyncio.wait_for(service.wait(), 15)
            except TimeoutError:
                service.kill()
                await service.wait()
        await issuer.stop()
        if amqp is not None:
            # Everything the service declared under this run's prefix (its queue and retry
            # tiers, the back office's queue) and the exchanges, not only billing's.
            queues = ["billing", "billing.dlq", "backoffice.billing"]
            queues += [f"billing.retry.{tier}" for tier in (1, 2, 3)]
            for name in [*queues, "billing.events", "auth.events"]:
                with contextlib.suppress(Exception):
                    channel = await amqp.channel()
                    if name.endswith(".events"):
                        await channel.exchange_delete(prefix + name)
                    else:
                        await channel.queue_delete(prefix + name)
            await amqp.close()
        await db.drop_database(ADMIN_DSN, database)
    return verdicts


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--client",
        choices=("lean", "aiohttp"),
        default="lean",
        help="the service's load: kept-alive plain HTTP/1.1 (lean) or aiohttp's client",
    )
    args = parser.parse_args()
    verdicts = asyncio.run(main(args.clients, args.seconds, args.concurrency, args.client))
    print(f"done ({date.today().isoformat()})")
    for name, ours, bare in verdicts:
        report.ratio(
            name,
            ours["per_second"],
            bare["per_second"],
            TARGET,
            "req/s",
            cpu_us=ours["cpu_us"],
            limit_cpu_us=bare["cpu_us"],
        )
