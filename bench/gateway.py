"""Gateway benchmark: customer dashboards per second through the whole of e-BOK, next to a
bare aiohttp fan-out of the same eight calls to trivial endpoints, measured in the same run.

    .venv/bin/python bench/gateway.py [--seconds S] [--concurrency C] [--customers N]

(a) dashboard: the whole stack as the local run starts it (``deploy.local``'s own machinery:
    the five services, the gateway and the SMTP sink as child processes on their own ports,
    databases, bus prefix and Redis prefix), demo data loaded through billing's feed, one
    signed-in customer per client (accounts put into auth's database with a production
    argon2id hash, then logged in through the gateway, a few at a time; demo clients with an
    ended contract left out, as auth blocks some of them while the run goes on), and C
    concurrent clients, each repeating ``GET /api/v1/me/dashboard`` for its share of the N
    customers in turn (so no account meets its per-account rate limit). A request counts
    when it answers 200 with every part ``ok``; 200 with a part missing counts as degraded.
    Measured twice:
    (a1) "asked": with ``Cache-Control: no-cache``, so the gateway verifies the token and
         gathers all eight parts from auth, billing, readings and correspondence, each of
         which verifies the token again and reads its own database;
    (a2) "kept": as front ends call it, so the gateway serves the parts each replica keeps
         until an event says that client's data changed (ebok_gateway.view_cache); the first
         view of each customer is asked of the services.
(b) bare: two plain aiohttp processes, a fan-out server that answers each request with eight
    concurrent calls to a trivial JSON endpoint in the other, driven the same way. It is the
    ceiling of "one request, eight calls behind it" on this machine.

Targets (issue 17): asked at least 0.3 of (b), no degraded answer and p99 within 400 ms;
kept at least 0.5 of (b) and p99 within 100 ms. p50/p99 latency of each, and the CPU time
every process of the side spent per answer (the gateway and the services; the two bare
processes). Clients
send distinct ``X-Forwarded-For`` addresses and the gateway trusts them (as behind the
ingress), so the per-address rate limit counts per customer, as in production. Everything
is started here and stopped afterwards (databases dropped, the RabbitMQ vhost deleted); the
default run finishes within a minute.
PostgreSQL and RabbitMQ: ``EBOK_TEST_PG_DSN`` / ``EBOK_TEST_AMQP_URL`` or the local servers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.e2e.stack: the local run's stack, stoppable from here

import aiohttp  # noqa: E402
import report  # noqa: E402  # bench/report.py, beside this script
from aiohttp import web  # noqa: E402
from ebok_shared import db  # noqa: E402

from bench.stack import PASSWORD, address, seeded_stack  # noqa: E402

LOGINS_AT_ONCE = 8  # argon2id is CPU-bound: more at once only makes each wait longer

PARTS = 8  # the dashboard's parts (ebok_gateway.dashboard.DASHBOARD)


# -- the bare fan-out (b), each role its own process ------------------------------------------
async def _health(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def _serve_upstream(port: int) -> None:
    async def part(request: web.Request) -> web.Response:
        return web.json_response({"part": request.match_info["n"], "items": [], "total": 0})

    app = web.Application()
    app.router.add_get("/part/{n}", part)
    app.router.add_get("/health", _health)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _serve_fanout(port: int, upstream: str) -> None:
    async def session(app: web.Application) -> AsyncIterator[None]:
        app["http"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        yield
        await app["http"].close()

    async def dashboard(request: web.Request) -> web.Response:
        http: aiohttp.ClientSession = request.app["http"]

        async def fetch(n: int) -> Any:
            async with http.get(f"{upstream}/part/{n}") as resp:
                return {"status": "ok", "data": await resp.json()}

        parts = await asyncio.gather(*(fetch(n) for n in range(PARTS)))
        return web.json_response({f"part{n}": p for n, p in enumerate(parts)})

    app = web.Application()
    app.cleanup_ctx.append(session)
    app.router.add_get("/dashboard", dashboard)
    app.router.add_get("/health", _health)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def bare_fanout() -> AsyncIterator[tuple[str, list[int]]]:
    """The two bare processes; the fan-out's /dashboard URL and their pids."""
    up, fan = _free_port(), _free_port()
    me = str(ROOT / "bench" / "gateway.py")
    procs = [
        await asyncio.create_subprocess_exec(sys.executable, me, "--serve-upstream", str(up)),
        await asyncio.create_subprocess_exec(
            sys.executable, me, "--serve-fanout", str(fan), f"http://127.0.0.1:{up}"
        ),
    ]
    try:
        async with aiohttp.ClientSession() as http:
            for port in (up, fan):
                for _ in range(100):
                    with contextlib.suppress(aiohttp.ClientError):
                        async with http.get(f"http://127.0.0.1:{port}/health") as resp:
                            if resp.status == 200:
                                break
                    await asyncio.sleep(0.1)
        yield f"http://127.0.0.1:{fan}/dashboard", [p.pid for p in procs]
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in procs:
            await proc.wait()


# -- driving either ---------------------------------------------------------------------------
@dataclass
class Run:
    seconds: float
    latencies: list[float] = field(default_factory=list)
    degraded: int = 0
    failed: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # what failed: status or error
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by process, the window

    @property
    def cpu_us(self) -> float:
        """CPU time of the side's processes per answer, in µs."""
        answers = len(self.latencies) + self.degraded + self.failed
        return sum(self.cpu.values()) / answers * 1e6 if answers else 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def dashboard_judge(status: int, body: bytes) -> str:
    """ "ok" (200, every part ok), "degraded" (200 with a part missing) or "failed"."""
    if status != 200:
        return "failed"
    parts = json.loads(body).values()
    return "ok" if all(p.get("status") == "ok" for p in parts) else "degraded"


async def drive(
    url: str,
    headers: Callable[[int, int], dict[str, str]],
    concurrency: int,
    seconds: float,
    judge: Callable[[int, bytes], str] = dashboard_judge,
    pids: dict[str, int | None] | None = None,
) -> Run:
    """``concurrency`` clients, each repeating GET ``url`` as fast as answers come (its n-th
    request with ``headers(client, n)``); only requests that start after a two-second
    warm-up and end within the window count, each as ``judge`` says. The CPU time of
    ``pids`` is taken over the window (what the last requests of the warm-up still spend
    in it is about what the window's last ones spend after it)."""
    run = Run(seconds)
    pids = pids or {}
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        loop = asyncio.get_running_loop()
        start = loop.time() + 2.0
        end = start + seconds

        async def client(i: int) -> None:
            n = 0
            while (began := loop.time()) < end:
                n += 1
                try:
                    async with http.get(url, headers=headers(i, n)) as resp:
                        verdict = judge(resp.status, await resp.read())
                        why = str(resp.status)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    verdict, why = "failed", type(exc).__name__
                done = loop.time()
                if began < start or done > end:
                    continue
                if verdict == "failed":
                    run.failed += 1
                    run.failures[why] += 1
                elif verdict == "degraded":
                    run.degraded += 1
                else:
                    run.latencies.append(done - began)

        async def window() -> None:
            await asyncio.sleep(start - loop.time())
            before = {name: report.cpu_seconds(pid) for name, pid in pids.items()}
            await asyncio.sleep(end - loop.time())
            run.cpu = {name: report.cpu_seconds(pid) - before[name] for name, pid in pids.items()}

        await asyncio.gather(window(), *(client(i) for i in range(concurrency)))
    return run


def _reasons(failures: Counter[str]) -> str:
    return (
        (": " + ", ".join(f"{n} × {why}" for why, n in failures.most_common())) if failures else ""
    )


def line(name: str, run: Run) -> str:
    mean = statistics.fmean(run.latencies) * 1000 if run.latencies else 0.0
    return (
        f"{name:<34} {run.rate:8.1f} req/s   p50 {run.p(0.5):7.1f} ms   p99 {run.p(0.99):7.1f} ms"
        f"   mean {mean:7.1f} ms   ({len(run.latencies)} ok, {run.degraded} degraded,"
        f" {run.failed} failed{_reasons(run.failures)})\n"
        f"{'':<34} CPU {run.cpu_us:8.0f} µs per answer ("
        + ", ".join(
            f"{name} {cpu / max(1, len(run.latencies)) * 1e6:.0f}"
            for name, cpu in sorted(run.cpu.items(), key=lambda kv: -kv[1])
            if cpu > 0
        )
        + ")"
    )


async def without_ended_contracts(stack: Any, numbers: list[str]) -> list[str]:
    """``numbers`` less the demo clients with an ended contract: auth blocks some of them
    (30 days after the end) while the benchmark runs, when the event reaches it, and a
    blocked account's sessions are refused: a 401 or parts in error that are not load."""
    conn = await db.connect(stack.database_url("billing"))
    try:
        ended = await conn.fetch(
            "SELECT DISTINCT client_number FROM contracts WHERE terminated_on IS NOT NULL"
        )
    finally:
        await conn.close()
    gone = {row["client_number"] for row in ended}
    return [n for n in numbers if n not in gone]


async def log_in_a_few_at_once(gateway: str, numbers: list[str]) -> list[str]:
    """Each customer's access token as ``bench.stack.log_in`` gets it, ``LOGINS_AT_ONCE``
    at a time: 128 argon2id logins at once keep auth busy past the gateway's upstream
    timeout on a loaded 2-core machine."""
    at_once = asyncio.Semaphore(LOGINS_AT_ONCE)
    async with aiohttp.ClientSession() as http:

        async def one(i: int, number: str) -> str | None:
            async with (
                at_once,
                http.post(
                    f"{gateway}/api/v1/sessions",
                    json={"login": number, "password": PASSWORD},
                    headers={"X-Forwarded-For": address(i)},  # each customer their own
                ) as resp,
            ):
                body = await resp.json()
                if resp.status == 403 and body.get("code") == "account-blocked":
                    return None  # the demo data's clients whose last contract ended
                if resp.status != 201:
                    raise RuntimeError(f"login {number}: {resp.status} {body}")
                return str(body["access_token"])

        tokens = await asyncio.gather(*(one(i, n) for i, n in enumerate(numbers)))
        return [t for t in tokens if t is not None]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured, per side")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--customers", type=int, default=128, help="accounts (demo clients)")
    parser.add_argument("--log-level", default="WARNING", help="of every e-BOK process")
    args = parser.parse_args()
    started = time.monotonic()
    async with (
        seeded_stack(args.customers, args.log_level) as seeded,
        bare_fanout() as (bare_url, bare_pids),
    ):
        stack, up = seeded.stack, seeded.up
        staying = await without_ended_contracts(stack, seeded.numbers)
        tokens = await log_in_a_few_at_once(stack.gateway_url, staying)
        ready = time.monotonic() - started

        def customer(fresh: bool) -> Callable[[int, int], dict[str, str]]:
            def headers(i: int, n: int) -> dict[str, str]:
                if fresh:
                    # Asked: the client's own share, in turn (every concurrency-th customer
                    # from its own first), never overlapping another's: with 126 sessions for
                    # 64 clients, (i + n * 64) mod 126 let two clients ask for one customer at
                    # once and their asks joined one call, so clients that drifted apart were
                    # served at half the cost (an unfair order of the services' calls won).
                    share = range(i % len(tokens), len(tokens), args.concurrency)
                    k = share[n % len(share)]
                else:
                    # Kept: nothing to join (the parts are kept); spread over every customer
                    # evenly, so none meets its per-account rate limit at thousands a second.
                    k = (i + n * args.concurrency) % len(tokens)
                sent = {"Authorization": f"Bearer {tokens[k]}", "X-Forwarded-For": address(k)}
                return {**sent, "Cache-Control": "no-cache"} if fresh else sent

            return headers

        url = stack.api + "/me/dashboard"
        ours = {name: child.pid for name, child in stack.local.children.items()}
        theirs: dict[str, int | None] = {"upstream": bare_pids[0], "fan-out": bare_pids[1]}
        asked = await drive(url, customer(True), args.concurrency, args.seconds, pids=ours)
        kept = await drive(url, customer(False), args.concurrency, args.seconds, pids=ours)
        bare = await drive(bare_url, lambda *_: {}, args.concurrency, args.seconds, pids=theirs)
    total = time.monotonic() - started
    print(f"cores: {os.cpu_count()}; {args.concurrency} concurrent clients, {PARTS} parts each;")
    print(
        f"stack up in {up:.1f} s, data and {len(tokens)} sessions ready at {ready:.1f} s,"
        f" {args.seconds:.0f} s measured per side"
    )
    print(line("dashboard, parts asked (no-cache)", asked))
    print(line("dashboard, parts kept", kept))
    print(line("bare aiohttp fan-out (8 calls)", bare))
    for name, run, target in (("asked", asked, 0.3), ("kept", kept, 0.5)):
        report.ratio(
            f"dashboard-{name}",
            run.rate,
            bare.rate,
            target,
            "req/s",
            cpu_us=run.cpu_us,
            limit_cpu_us=bare.cpu_us,
        )
    report.bound("dashboard-asked-degraded", asked.degraded + asked.failed, 0, "answers")
    report.bound("dashboard-asked-p99", asked.p(0.99), 400, "ms")
    report.bound("dashboard-kept-p99", kept.p(0.99), 100, "ms")
    print(f"finished in {total:.1f} s")


if __name__ == "__main__":
    role = sys.argv[1:]
    if role[:1] == ["--serve-upstream"]:
        _serve_upstream(int(role[1]))
    elif role[:1] == ["--serve-fanout"]:
        _serve_fanout(int(role[1]), role[2])
    else:
        asyncio.run(main())
