"""Load benchmark: how many customers e-BOK serves on this machine before its p99 passes 1 s.

    .venv/bin/python bench/load.py [--start N] [--factor F] [--max-customers M]
                                   [--step-seconds S] [--think T]

The whole stack as the local run starts it, with demo clients and active accounts
(bench/stack.py), and simulated customers doing the journey mix of bench/journey.py: sign in,
dashboard, invoices, balance, a meter's history and a new reading, correspondence (a letter
every fourth visit), two portal pages — through the gateway's API and the portal, each with
a pause to read between steps. The load steps up: ``--start`` customers, then ``--factor``
times as many each step (4, 8, 16, 32, … by default), each step measured for
``--step-seconds`` after a second for the new customers to arrive, every request started in
that window waited for. Each step prints its rate, p50, p99 and error rate; the stepping
stops at the first step whose p99 passes 1 s or whose error rate passes 1 %: the limit on
this machine is the step before it. p50/p99 and errors per route are printed for the last
step within the limit and the first past it.

Target: at least 10 customers. Planned for: 100 customers on e-BOK at once in the busiest
hour (the days after the bimonthly invoices go out), each reading a page for about 10 s;
at the benchmark's 1 s pause one simulated customer weighs as much as ten of them, so 10
simulated customers is that hour — on one replica of every component, on the same 2 cores
as PostgreSQL, RabbitMQ and the load itself.

Everything is started here and stopped afterwards. The default run's steps take half a minute
at most once the stack is up; the whole run is about a minute when the machine is quiet and
longer when it is not (the stack's start and the demo data take most of the rest: 27 s on a
quiet moment of this machine, 51–68 s at a load average of 13).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.journey import Crowd, RouteStats, by_route, failures, overall, route_table  # noqa: E402
from bench.rules import Step, find_limit, over, steps_up  # noqa: E402
from bench.stack import seeded_stack  # noqa: E402

P99_BOUND = 1.0  # seconds
MAX_ERROR_RATE = 0.01
TARGET_CUSTOMERS = 10
ARRIVAL = 1.0  # seconds for a step's new customers to arrive before it is measured


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--start", type=int, default=4, help="customers in the first step")
    parser.add_argument("--factor", type=float, default=2.0, help="customers × this each step")
    parser.add_argument("--max-customers", type=int, default=128, help="the last step at most")
    parser.add_argument("--step-seconds", type=float, default=5.0, help="measured per step")
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between steps, s")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--log-level", default="WARNING", help="of every e-BOK process")
    args = parser.parse_args()
    plan = steps_up(args.start, args.factor, args.max_customers)
    started = time.monotonic()
    steps: list[Step] = []
    tables: dict[int, list[str]] = {}
    slowest: dict[int, RouteStats] = {}
    async with seeded_stack(plan[-1], args.log_level) as seeded:
        stack = seeded.stack
        print(
            f"cores: {os.cpu_count()}; steps of {', '.join(map(str, plan))} customers,"
            f" {args.step_seconds:.0f} s each, {args.think:.1f} s mean pause;"
            f" stack up in {seeded.up:.1f} s, {len(seeded.numbers)} accounts at"
            f" {seeded.ready:.1f} s",
            flush=True,
        )
        async with Crowd(
            stack.api, stack.portal_url, seeded.numbers, args.think, args.seed
        ) as crowd:
            for customers in plan:
                crowd.grow_to(customers)
                await asyncio.sleep(ARRIVAL)
                begin = time.monotonic()
                await asyncio.sleep(args.step_seconds)
                end = time.monotonic()
                await crowd.recorder.settled(end)
                samples = crowd.recorder.window(begin, end)
                p50, p99, errors = overall(samples)
                step = Step(customers, p99, errors)
                steps.append(step)
                routes = by_route(samples)
                tables[customers] = route_table(routes, end - begin) + (
                    ["  what failed:", *failures(samples)] if errors else []
                )
                if routes:
                    slowest[customers] = max(routes, key=lambda r: r.p99)
                verdict = "over" if over(step, P99_BOUND, MAX_ERROR_RATE) else "within"
                print(
                    f"{customers:5d} customers  {len(samples) / (end - begin):7.1f} req/s"
                    f"   p50 {p50 * 1000:6.0f} ms   p99 {p99 * 1000:6.0f} ms"
                    f"   errors {errors:6.1%}   {verdict}",
                    flush=True,
                )
                if verdict == "over":
                    break
    limit = find_limit(steps, P99_BOUND, MAX_ERROR_RATE)
    shown: tuple[tuple[int | None, str], ...] = (
        (limit.served, "last within"),
        (limit.passed_at, "first past"),
    )
    for at, title in shown:
        if at:
            print(f"per route at {at} customers ({title} the limit):")
            print("\n".join(tables[at]))
    print(f"limit: {limit.describe(P99_BOUND)}")
    if limit.passed_at in slowest:
        worst = slowest[limit.passed_at]
        print(f"slowest route past it: {worst.route} (p99 {worst.p99 * 1000:.0f} ms)")
    verdict = "met" if limit.served >= TARGET_CUSTOMERS else "NOT met"
    print(f"ratio customers-at-limit: {limit.served} (target ≥ {TARGET_CUSTOMERS}: {verdict})")
    print(f"finished in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
