"""Portal benchmark: dashboard PAGES per second through web → gateway → services, next to the
gateway's JSON dashboard measured in the same run, and the dashboard page's weight.

    .venv/bin/python bench/web.py [--seconds S] [--concurrency C] [--customers N]

The whole stack as the local run starts it (tests.e2e.stack: every service, the gateway, the
SMTP sink and web as child processes on their own ports, databases, bus and Redis prefixes),
demo data loaded through billing's feed and the meters' reading history through readings'
(as ``make run`` loads them: the dashboard shows its consumption chart), accounts put into
auth's database (as activation leaves them), and each customer signed in twice: through
the portal's own sign-in form (a session cookie) and through the gateway's API (a bearer
token).

(a) portal: C concurrent clients, each repeating ``GET /pulpit`` with its share of the N
    customers' cookies in turn; a page counts when it answers 200 without a part marked
    unavailable (degraded otherwise). Web asks the gateway once per page: the dashboard's
    view with the chart's months (``/me/dashboard?include=consumption``).
(b) API: the same clients repeating that very call, ``GET /api/v1/me/dashboard?include=
    consumption``, as a front end showing the same page calls it (the gateway's kept parts),
    with the customers' tokens.

Target: (a) at least 0.7 of (b) — the session lookup, token handling and rendering must cost
little next to what the gateway already does. The page's weight (HTML + CSS + JS, each
gzipped) is printed against its limit of 60 KB. Each client sends its customer's own
``X-Forwarded-For``; web and the gateway trust it from this host, as behind the ingress.
Everything is started here and stopped afterwards; the default run finishes within a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import report  # noqa: E402  # bench/report.py, beside this script

from bench.gateway import (  # noqa: E402
    drive,
    line,
    log_in_a_few_at_once,
    without_ended_contracts,
)
from bench.stack import PORTAL_COOKIE as COOKIE  # noqa: E402
from bench.stack import address, portal_sign_in, seeded_stack  # noqa: E402

UNAVAILABLE = "chwilowo niedostępne".encode()
WEIGHT_LIMIT_KB = 60.0
_ASSET = re.compile(rb'(?:src|href)="(/static/[^"]+)"')


async def sign_in_through_the_portal(portal: str, numbers: list[str]) -> list[str]:
    """Each customer's session cookie, from the portal's own form (CSRF token and all); a few
    at a time (each is a password hash in auth: a hundred at once outlast web's timeout)."""
    gate = asyncio.Semaphore(16)

    async def one(i: int, number: str) -> str:
        async with gate:
            return await portal_sign_in(portal, i, number)

    return list(await asyncio.gather(*(one(i, n) for i, n in enumerate(numbers))))


def page_judge(status: int, body: bytes) -> str:
    if status != 200:
        return "failed"
    return "degraded" if UNAVAILABLE in body else "ok"


async def page_weight(portal: str, cookie: str) -> dict[str, int]:
    """Bytes of the dashboard page and each asset it loads, gzipped as served over the wire."""
    sizes: dict[str, int] = {}
    async with aiohttp.ClientSession(headers={"Cookie": f"{COOKIE}={cookie}"}) as http:
        async with http.get(f"{portal}/pulpit") as resp:
            html = await resp.read()
        sizes["/pulpit (HTML)"] = len(gzip.compress(html, 6))
        for asset in dict.fromkeys(m.decode() for m in _ASSET.findall(html)):
            async with http.get(portal + asset) as resp:
                sizes[asset.split("?")[0]] = len(gzip.compress(await resp.read(), 6))
    return sizes


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured, per side")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        # Half a side: the gateway's per-account limit (300 a minute) holds the API side's
        # answers to about 64 × 300 / 7 s ≈ 2,700/s with 128; with 256, to twice that.
        "--customers",
        type=int,
        default=256,
        help="accounts (demo clients), half a side",
    )
    parser.add_argument("--log-level", default="WARNING", help="of every e-BOK process")
    args = parser.parse_args()
    started = time.monotonic()
    async with seeded_stack(args.customers, args.log_level, history=True) as seeded:
        stack, up = seeded.stack, seeded.up
        # auth blocks a client 30 days after their last contract ended, when the event
        # reaches it during the run: their sessions are then refused (401), not load
        numbers = await without_ended_contracts(stack, seeded.numbers)
        # Each side has customers of its own: the gateway's per-account limit (300 a minute)
        # counts the portal's calls too, and one side's minute would refuse the other's.
        half = len(numbers) // 2
        cookies = await sign_in_through_the_portal(stack.portal_url, numbers[:half])
        tokens = await log_in_a_few_at_once(stack.gateway_url, numbers[half:])
        ready = time.monotonic() - started

        def customer(
            credential: Callable[[int], dict[str, str]], first: int
        ) -> Callable[..., dict]:
            def headers(i: int, n: int) -> dict[str, str]:
                k = first + (i + n * args.concurrency) % half  # the client's share, in turn
                return {**credential(k), "X-Forwarded-For": address(k)}

            return headers

        by_cookie = customer(lambda k: {"Cookie": f"{COOKIE}={cookies[k]}"}, 0)
        by_token = customer(lambda k: {"Authorization": f"Bearer {tokens[k - half]}"}, half)
        pids = {name: child.pid for name, child in stack.local.children.items()}
        pages = await drive(
            stack.portal_url + "/pulpit",
            by_cookie,
            args.concurrency,
            args.seconds,
            page_judge,
            pids=pids,
        )
        api = await drive(
            stack.api + "/me/dashboard?include=consumption",
            by_token,
            args.concurrency,
            args.seconds,
            pids=pids,
        )
        weight = await page_weight(stack.portal_url, cookies[0])
    total = time.monotonic() - started
    print(
        f"cores: {os.cpu_count()}; {args.concurrency} concurrent clients, {len(numbers)} customers"
    )
    print(f"stack up in {up:.1f} s, sessions ready at {ready:.1f} s, {args.seconds:.0f} s per side")
    print(line("portal: dashboard page (/pulpit)", pages))
    print(line("API: dashboard JSON (kept parts)", api))  # the same call as web's
    for name, size in weight.items():
        print(f"  {name:<30} {size / 1024:6.1f} KB gzipped")
    kilobytes = sum(weight.values()) / 1024
    # CPU per answer is the steadier figure on a shared machine: what a page view costs web
    # itself, what it costs behind web, and the API's answer next to it.
    views = max(1, len(pages.latencies) + pages.degraded + pages.failed)
    web_us = pages.cpu.get("web", 0.0) / views * 1e6
    print(
        f"CPU per page view: web {web_us:.0f} µs + behind web {pages.cpu_us - web_us:.0f} µs"
        f" = {pages.cpu_us:.0f} µs; per API answer {api.cpu_us:.0f} µs"
        f" (CPU ratio {api.cpu_us / pages.cpu_us if pages.cpu_us else 0:.2f})"
    )
    print(f"dashboard page weight: {kilobytes:.1f} KB (limit {WEIGHT_LIMIT_KB:.0f} KB)")
    report.ratio(
        "portal", pages.rate, api.rate, 0.7, "req/s", cpu_us=pages.cpu_us, limit_cpu_us=api.cpu_us
    )
    report.bound("page-weight", kilobytes, WEIGHT_LIMIT_KB, "KB")
    print(f"finished in {total:.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
