"""What every whole-stack benchmark starts with: the stack as the local run starts it
(tests.e2e.stack: every service, the gateway, the SMTP sink and web as child processes on
their own ports, databases, bus and Redis prefixes), demo data loaded through billing's feed,
and an active account for each demo client, ready to sign in with ``PASSWORD``.

Clients call from addresses of their own (``address``: one per customer, sent as
``X-Forwarded-For``), which the gateway trusts here as behind the ingress, so per-address
limits count customers, as in production. Everything is stopped and dropped on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.e2e.stack: the local run's stack, stoppable from here

import aiohttp  # noqa: E402
import argon2  # noqa: E402
from ebok_auth.settings import OWASP_MEMORY_KIB, OWASP_TIME_COST  # noqa: E402
from ebok_shared import db  # noqa: E402

from deploy.demo import demo_command, demo_env  # noqa: E402
from deploy.demo import reading_history as history_rows  # noqa: E402
from tests.e2e.stack import Stack, running_stack  # noqa: E402
from tests.support import infra  # noqa: E402

PASSWORD = "Benchmark-Pulpit-2026"
FIRST_CLIENT = 100001  # deploy.demo_data numbers its clients from here
PORTAL_COOKIE = "__Host-ebok"
_CSRF = re.compile(rb'name="csrf" value="([^"]+)"')


@dataclass
class Seeded:
    """A running stack with ``numbers``' accounts active; ``up`` and ``ready``: seconds from
    the start until the stack answered and until the accounts were in."""

    stack: Stack
    numbers: list[str]
    up: float
    ready: float
    amqp_url: str  # the broker's URL with this run's own vhost


@contextlib.asynccontextmanager
async def seeded_stack(
    customers: int, log_level: str = "WARNING", *, history: bool = False
) -> AsyncIterator[Seeded]:
    """A whole stack with ``customers`` demo clients, each with an active account; with
    ``history``, their meters' readings since the contract date too (as ``make run`` loads
    them: a dashboard with its consumption chart and last readings)."""
    os.environ["EBOK_TRUST_FORWARDED_FOR"] = "true"  # the gateway, as behind the ingress
    started = time.monotonic()
    with infra.provide() as services, tempfile.TemporaryDirectory(prefix="ebok-bench-") as tmp:
        workdir = Path(tmp)
        async with running_stack(
            services.pg_admin_dsn, services.amqp_url, workdir, log_level=log_level
        ) as stack:
            up = time.monotonic() - started
            numbers = [str(FIRST_CLIENT + i) for i in range(customers)]
            await demo_data(stack, customers, workdir)
            if history:
                await reading_history(stack, workdir)
            await accounts(stack, numbers)
            yield Seeded(stack, numbers, up, time.monotonic() - started, services.amqp_url)


async def demo_data(stack: Stack, clients: int, workdir: Path) -> None:
    out = workdir / "demo"
    process = await asyncio.create_subprocess_exec(
        *demo_command(clients, 1, out),
        env=demo_env(stack.component("billing").env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        printed = output.decode(errors="replace").splitlines()
        raise RuntimeError("demo data not loaded:\n" + "\n".join(printed[-20:]))
    numbers = [str(FIRST_CLIENT + i) for i in range(clients)]
    for service, query in (
        ("auth", "SELECT count(*) FROM clients WHERE client_number = ANY($1)"),
        ("readings", "SELECT count(DISTINCT client_number) FROM contracts"),
        ("correspondence", "SELECT count(DISTINCT client_number) FROM known_invoices"),
    ):
        conn = await db.connect(stack.database_url(service))
        try:
            args = [numbers] if "$1" in query else []
            deadline = time.monotonic() + 60
            while await conn.fetchval(query, *args) < clients:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{service} did not learn the demo clients")
                await asyncio.sleep(0.2)
        finally:
            await conn.close()


async def reading_history(stack: Stack, workdir: Path) -> None:
    """The demo meters' readings through readings' own feed (deploy.demo's history, agreeing
    with the invoices), retried while readings still learns the meters from billing."""
    rows = history_rows(workdir / "demo", dt.date.today())
    batch = workdir / "readings.jsonl"
    batch.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    deadline = time.monotonic() + 60
    while True:
        code, lines = await stack.run("readings", "feed", "readings", str(batch))
        if code == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("reading history not loaded:\n" + "\n".join(lines[-20:]))
        await asyncio.sleep(1)


async def accounts(stack: Stack, numbers: list[str]) -> None:
    """Active accounts with the regulations accepted, as registration and activation leave
    them (put in directly: the registration path is not what the benchmarks measure)."""
    hashed = argon2.PasswordHasher(
        time_cost=OWASP_TIME_COST, memory_cost=OWASP_MEMORY_KIB, parallelism=1
    ).hash(PASSWORD)
    conn = await db.connect(stack.database_url("auth"))
    try:
        now = dt.datetime.now(dt.UTC)
        await conn.executemany(
            "INSERT INTO accounts (client_number, email, status, password_hash, created_at,"
            " activated_at, password_changed_at) VALUES ($1, $2, 'active', $3, $4, $4, $4)",
            [(n, f"bench.{n}@example.pl", hashed, now) for n in numbers],
        )
        await conn.executemany(
            "INSERT INTO regulations_acceptances (client_number, version, accepted_at, context)"
            " VALUES ($1, 1, $2, 'registration')",
            [(n, now) for n in numbers],
        )
    finally:
        await conn.close()


def address(i: int) -> str:
    return f"198.51.{100 + i // 250}.{i % 250 + 1}"  # TEST-NET-2, one per client


async def portal_sign_in(portal: str, i: int, number: str) -> str:
    """Customer ``i``'s session cookie, from the portal's own sign-in form (CSRF and all)."""
    jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[portal])
    headers = {"X-Forwarded-For": address(i)}
    async with aiohttp.ClientSession(cookie_jar=jar, headers=headers) as http:
        async with http.get(f"{portal}/logowanie") as resp:
            found = _CSRF.search(await resp.read())
        if found is None:
            raise RuntimeError(f"no CSRF token on the sign-in page ({resp.status})")
        form = {"csrf": found[1].decode(), "login": number, "password": PASSWORD}
        async with http.post(f"{portal}/logowanie", data=form) as resp:
            if resp.url.path != "/pulpit":
                raise RuntimeError(f"sign-in {number}: ended at {resp.url} ({resp.status})")
        return next(c.value for c in jar if c.key == PORTAL_COOKIE)
