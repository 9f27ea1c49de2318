"""Soak benchmark: a moderate load for a set time, and whether anything grows without bound.

    .venv/bin/python bench/soak.py [--minutes M] [--customers N] [--interval S]

The whole stack with demo clients and active accounts (bench/stack.py), and ``--customers``
simulated customers (default 8, well within the limit bench/load.py finds) doing the journey
mix of bench/journey.py for ``--minutes`` (default 10). Every ``--interval`` seconds
(default 5) it samples:

  rss:<process>           resident memory (MiB) of each process of the stack, its children
                          included (every service, the gateway, web, the SMTP sink, the
                          payment sandbox)
  fds:<process>           its open file descriptors (/proc/<pid>/fd, by psutil)
  db-connections:<service>
                          the stack's connections to each service's database
                          (pg_stat_activity, the sampler's own left out)
  broker-connections, broker-channels
                          the stack's AMQP connections and their channels in its own vhost
                          (``rabbitmqctl list_connections``; the management plugin is not
                          enabled on this machine)
  outbox:<service>, inbox:<service>
                          the rows of each service's outbox and inbox

and draws each series as a small chart, var/soak/<series>.png, with var/soak/overview.png
holding them all and var/soak/samples.csv the numbers.

The rule (bench/rules.py ``growth``): the first half of the run is warm-up; over the second
half a least-squares line is fitted to each series, which grows without bound when the line
rises by more than its tolerance AND explains at least half of the series' variation (a
steady climb, not noise). Tolerances over the second half: memory max(16 MiB, 10 %), file
descriptors max(10, 10 %), database connections 3, broker connections 2, channels 4, outbox
rows 100 (the relay keeps it near empty). The inbox is charted but not judged: it keeps each
handled event's id for 14 days by design (``prune_inbox``), so under steady load it climbs
until then — its rate and the size it settles at are printed instead.

Exit code 1, with each offending series named, when a series grows without bound, a process
of the stack exits, the customers made no request or more than 1 % of them failed; 0
otherwise. How small a leak it catches depends on the run's length: a rise must pass the
tolerance within the second half, so at 10 req/s a 10 KiB-per-request leak (≈ 30 MiB in
5 min) fails the default 10 minutes, while one of 1 KiB needs an hour (``--minutes 60``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import math
import re
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from ebok_shared import db  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402 (no pyplot: files only, no display)

from bench.journey import Crowd, by_route, overall, route_table  # noqa: E402
from bench.journey import failures as what_failed  # noqa: E402
from bench.rules import Growth, growth  # noqa: E402
from bench.stack import seeded_stack  # noqa: E402
from tests.e2e.stack import Stack  # noqa: E402

OUT = ROOT / "var" / "soak"
MiB = 1024 * 1024
INBOX_RETENTION_DAYS = 14  # ebok_shared.bus.consumer.prune_inbox
MAX_ERROR_RATE = 0.01


@dataclass(frozen=True)
class Tolerance:
    absolute: float
    relative: float = 0.0
    unit: str = ""


# By the part of the series name before the colon; None: charted, not judged.
TOLERANCES: dict[str, Tolerance | None] = {
    "rss": Tolerance(16.0, 0.10, "MiB"),
    "fds": Tolerance(10.0, 0.10, "descriptors"),
    "db-connections": Tolerance(3.0, unit="connections"),
    "broker-connections": Tolerance(2.0, unit="connections"),
    "broker-channels": Tolerance(4.0, unit="channels"),
    "outbox": Tolerance(100.0, unit="rows"),
    "inbox": None,
}


@dataclass
class Series:
    name: str
    times: list[float] = field(default_factory=list)  # seconds since the first sample
    values: list[float] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.name.split(":")[0]

    def add(self, t: float, value: float) -> None:
        self.times.append(t)
        self.values.append(value)


class Sampler:
    """Everything it samples, as series by name; the sampler's own database connections
    are left out of the counts."""

    def __init__(self, stack: Stack, amqp_url: str) -> None:
        self.stack = stack
        self.vhost = unquote(urlsplit(amqp_url).path.lstrip("/")) or "/"
        self.series: dict[str, Series] = {}
        self.exited: set[str] = set()
        self.missed: dict[str, int] = {}  # samples not taken, by why
        self.databases = {
            c.database: c.name for c in stack.local.components if c.database is not None
        }
        self._admin: db.asyncpg.Connection | None = None
        self._conns: dict[str, db.asyncpg.Connection] = {}  # by service, made when they can be
        self._started = 0.0
        self.rabbitmqctl = shutil.which("rabbitmqctl")

    async def __aenter__(self) -> Sampler:
        self._admin = await db.connect(self.stack.config.pg_url)
        self._started = time.monotonic()
        return self

    async def __aexit__(self, *_: object) -> None:
        for conn in [*self._conns.values(), self._admin]:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()

    def _miss(self, why: str) -> None:
        self.missed[why] = self.missed.get(why, 0) + 1

    async def _conn(self, name: str) -> db.asyncpg.Connection | None:
        """A connection to ``name``'s database, kept once made. PostgreSQL's 100 connections
        are shared with everything else on this machine: when none is free, this sample of
        the tables is missed and the next one tries again."""
        if name not in self._conns:
            try:
                self._conns[name] = await db.connect(self.stack.database_url(name))
            except (db.asyncpg.PostgresError, OSError) as exc:
                self._miss(type(exc).__name__)
                return None
        return self._conns[name]

    def _add(self, name: str, t: float, value: float) -> None:
        self.series.setdefault(name, Series(name)).add(t, value)

    async def sample(self) -> None:
        t = time.monotonic() - self._started
        broker = asyncio.ensure_future(self._broker())
        self._processes(t)
        await self._database(t)
        found = await broker
        if found is not None:
            self._add("broker-connections", t, found[0])
            self._add("broker-channels", t, found[1])

    def _processes(self, t: float) -> None:
        for name, child in self.stack.local.children.items():
            if child.pid is None or child.returncode is not None:
                self.exited.add(name)
                continue
            try:
                root = psutil.Process(child.pid)
                tree = [root, *root.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in tree)
                fds = sum(p.num_fds() for p in tree)
            except psutil.NoSuchProcess:
                self.exited.add(name)
                continue
            self._add(f"rss:{name}", t, rss / MiB)
            self._add(f"fds:{name}", t, fds)

    async def _database(self, t: float) -> None:
        assert self._admin is not None
        conns = {name: await self._conn(name) for name in self.databases.values()}
        own = [self._admin.get_server_pid()]
        own += [c.get_server_pid() for c in conns.values() if c is not None]
        rows = await self._admin.fetch(
            "SELECT datname, count(*) AS n FROM pg_stat_activity"
            " WHERE datname = ANY($1) AND pid <> ALL($2) GROUP BY datname",
            list(self.databases),
            own,
        )
        counted = {r["datname"]: r["n"] for r in rows}
        for database, name in self.databases.items():
            self._add(f"db-connections:{name}", t, counted.get(database, 0))
        for name, conn in conns.items():
            if conn is None:
                continue
            for table in ("outbox", "inbox"):
                with contextlib.suppress(db.asyncpg.UndefinedTableError):  # none there
                    rows_now = await conn.fetchval(f"SELECT count(*) FROM {table}")
                    self._add(f"{table}:{name}", t, rows_now)

    async def _broker(self) -> tuple[int, int] | None:
        """(connections, channels) in this stack's vhost, None when rabbitmqctl cannot tell."""
        if self.rabbitmqctl is None:
            return None
        process = await asyncio.create_subprocess_exec(
            self.rabbitmqctl,
            "-q",
            "list_connections",
            "vhost",
            "channels",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()
            return None
        if process.returncode != 0:
            return None
        connections = channels = 0
        for line in out.decode().splitlines():
            parts = line.split("\t")
            if len(parts) == 2 and parts[0] == self.vhost and parts[1].isdigit():
                connections += 1
                channels += int(parts[1])
        return connections, channels


def judge(series: Series) -> Growth | None:
    tolerance = TOLERANCES.get(series.kind)
    if tolerance is None:
        return None
    return growth(
        series.times, series.values, absolute=tolerance.absolute, relative=tolerance.relative
    )


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".png"


def draw(all_series: Sequence[Series], verdicts: dict[str, Growth | None], out: Path) -> None:
    """One small chart per series, and an overview of all of them."""

    def plot(ax: Axes, series: Series) -> None:
        minutes = [t / 60 for t in series.times]
        verdict = verdicts.get(series.name)
        ax.plot(minutes, series.values, color="#1f4e79", linewidth=1.2)
        if verdict is not None and len(series.times) >= 2:
            half = len(series.times) // 2
            x0, x1 = series.times[half], series.times[-1]
            mean_x = sum(series.times[half:]) / len(series.times[half:])
            mean_y = sum(series.values[half:]) / len(series.values[half:])
            ys = [mean_y + verdict.slope * (x - mean_x) for x in (x0, x1)]
            colour = "#c00000" if verdict.unbounded else "#7f7f7f"
            ax.plot([x0 / 60, x1 / 60], ys, color=colour, linestyle="--", linewidth=1)
        state = "not judged" if verdict is None else "GROWS" if verdict.unbounded else "bounded"
        ax.set_title(f"{series.name} ({state})", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("minutes", fontsize=7)
        top = max(series.values, default=0.0)
        ax.set_ylim(0, top * 1.15 if top > 0 else 1)

    for series in all_series:
        fig = Figure(figsize=(4, 2.4), dpi=90)
        ax = fig.subplots()
        plot(ax, series)
        tolerance = TOLERANCES.get(series.kind)
        if tolerance is not None and tolerance.unit:
            ax.set_ylabel(tolerance.unit, fontsize=7)
        fig.tight_layout()
        fig.savefig(out / _file_name(series.name))
    columns = 5
    rows = math.ceil(len(all_series) / columns)
    fig = Figure(figsize=(3.2 * columns, 2.1 * rows), dpi=80)
    flat = list(fig.subplots(rows, columns, squeeze=False).flat)
    for ax, series in zip(flat, all_series, strict=False):
        plot(ax, series)
    for ax in flat[len(all_series) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "overview.png")


def write_csv(all_series: Sequence[Series], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["series", "seconds", "value"])
        for series in all_series:
            for t, v in zip(series.times, series.values, strict=True):
                writer.writerow([series.name, f"{t:.1f}", f"{v:.3f}"])


def report(all_series: Sequence[Series], verdicts: dict[str, Growth | None]) -> list[str]:
    lines = [
        f"  {'series':<36} {'n':>4} {'first':>9} {'last':>9} {'max':>9} {'rise/2nd half':>14}"
        f" {'allowed':>9}  verdict"
    ]
    for series in all_series:
        verdict = verdicts[series.name]
        first, last, most = series.values[0], series.values[-1], max(series.values)
        if verdict is None:
            rise = allowed = "-"
            state = "not judged (kept 14 days by design)"
        else:
            rise, allowed = f"{verdict.rise:+.1f}", f"{verdict.allowed:.1f}"
            state = "GROWS WITHOUT BOUND" if verdict.unbounded else "bounded"
            state += f" (r² {verdict.r2:.2f})"
        lines.append(
            f"  {series.name:<36} {len(series.values):4d} {first:9.1f} {last:9.1f} {most:9.1f}"
            f" {rise:>14} {allowed:>9}  {state}"
        )
    return lines


def inbox_projection(all_series: Sequence[Series]) -> list[str]:
    """Each inbox's rate over the run and the size it settles at once pruning starts."""
    lines = []
    for series in all_series:
        if series.kind != "inbox" or len(series.times) < 2:
            continue
        span = series.times[-1] - series.times[0]
        per_minute = (series.values[-1] - series.values[0]) / span * 60 if span else 0.0
        settled = per_minute * 60 * 24 * INBOX_RETENTION_DAYS
        lines.append(
            f"  {series.name:<36} {per_minute:8.1f} rows/min → about {settled:,.0f} rows"
            f" after {INBOX_RETENTION_DAYS} days at this load, then pruned"
        )
    return lines


def empty(out: Path) -> None:
    """``out``, made if missing, without the charts and numbers of an earlier run."""
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("*.png"), *out.glob("*.csv")]:
        old.unlink()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the load runs")
    parser.add_argument("--customers", type=int, default=8, help="simulated customers")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between steps, s")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--out", type=Path, default=OUT, help="where the charts go")
    parser.add_argument("--log-level", default="WARNING", help="of every e-BOK process")
    args = parser.parse_args()
    started = time.monotonic()
    out: Path = args.out
    empty(out)
    async with seeded_stack(args.customers, args.log_level) as seeded:
        stack = seeded.stack
        print(
            f"{args.customers} customers for {args.minutes:g} min, sampled every"
            f" {args.interval:g} s; stack up in {seeded.up:.1f} s, accounts at"
            f" {seeded.ready:.1f} s",
            flush=True,
        )
        async with (
            Crowd(stack.api, stack.portal_url, seeded.numbers, args.think, args.seed) as crowd,
            Sampler(stack, seeded.amqp_url) as sampler,
        ):
            crowd.grow_to(args.customers)
            load_started = time.monotonic()
            end = load_started + args.minutes * 60
            next_at = load_started
            taken = 0
            while (now := time.monotonic()) < end and not sampler.exited:
                await asyncio.sleep(max(0.0, next_at - now))
                await sampler.sample()
                taken += 1
                next_at += args.interval
                if taken % 12 == 0:  # a sign of life every minute at the default interval
                    minutes = (time.monotonic() - load_started) / 60
                    print(
                        f"  {minutes:.1f} min, {len(crowd.recorder.samples)} requests", flush=True
                    )
            load_end = time.monotonic()
            samples = crowd.recorder.window(load_started, load_end)
    all_series = sorted(sampler.series.values(), key=lambda s: s.name)
    verdicts = {s.name: judge(s) for s in all_series}
    draw(all_series, verdicts, out)
    write_csv(all_series, out / "samples.csv")
    p50, p99, error_rate = overall(samples)
    print(
        f"load: {len(samples)} requests in {(load_end - load_started) / 60:.1f} min,"
        f" p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, errors {error_rate:.2%}"
    )
    print("\n".join(route_table(by_route(samples), load_end - load_started)))
    if error_rate:
        print("what failed:")
        print("\n".join(what_failed(samples)))
    print(f"samples taken: {taken}, every {args.interval:g} s (n: of each series)")
    print("\n".join(report(all_series, verdicts)))
    print("inbox growth (kept by design, not judged):")
    print("\n".join(inbox_projection(all_series)))
    print(f"charts: {out}/<series>.png, {out}/overview.png; numbers: {out}/samples.csv")
    failures = [f"{n} grows without bound" for n, v in verdicts.items() if v and v.unbounded]
    failures += [f"{name} exited during the soak" for name in sorted(sampler.exited)]
    if not samples:
        failures.append("the customers made no request: nothing was soaked")
    if error_rate > MAX_ERROR_RATE:
        failures.append(f"{error_rate:.1%} of requests failed (at most {MAX_ERROR_RATE:.0%})")
    for why, count in sorted(sampler.missed.items()):
        print(f"database samples missed {count} time(s): {why} (PostgreSQL busy)")
    if sampler.rabbitmqctl is None:
        print("broker channels not sampled: rabbitmqctl is not on this machine")
    judged = sum(v is not None for v in verdicts.values())
    bounded = sum(v is not None and not v.unbounded for v in verdicts.values())
    verdict = "met" if not failures else "NOT met"
    print(
        f"ratio bounded-series: {bounded / judged if judged else 0:.2f} (target ≥ 1.00: {verdict})"
    )
    print(f"finished in {time.monotonic() - started:.1f} s")
    for failure in failures:
        print(f"SOAK FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
