"""Two sides of a ratio measured fairly on a shared machine: each run in short alternating
slices (``interleaved``: ours, the limit, ours, the limit…), a side's rate counted as its
calls' work within its slices (``run_for``), its CPU time as that of its own process(es)
over its own slices. Used by bench/correspondence.py and bench/readings.py."""

from __future__ import annotations

import asyncio
import collections
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


async def run_for(
    seconds: float, concurrency: int, op: Callable[[int], Awaitable[None]]
) -> tuple[float, float, list[float]]:
    """``op`` called by ``concurrency`` workers until ``seconds`` pass: the calls' work
    within those seconds (below), the ``seconds`` themselves, and every call's latency.

    A call counts by the share of its time that lay within the seconds: one asked and
    answered within them counts 1, one still in flight at the end counts the part it had
    run (it is awaited, so the next slice starts on a quiet service). Counting only the
    answers within a slice would miss the calls under way at its end, a whole latency of
    work: in a 1 s slice nearly 40 % for a side answering in 370 ms, 10 % for one answering
    in 110 ms. Counting whole calls over the time until the last one ends stretches the
    slice by a tail in which fewer and fewer workers are busy. Either one weighs on the
    slower side."""
    latencies: list[float] = []
    started = time.perf_counter()
    stop_at = started + seconds
    counter = iter(range(10**9))
    work = 0.0

    async def worker() -> None:
        nonlocal work
        while time.perf_counter() < stop_at:
            n = next(counter)
            asked = time.perf_counter()
            await op(n)
            done = time.perf_counter()
            latencies.append(done - asked)
            work += 1.0 if done <= stop_at else (stop_at - asked) / (done - asked)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return work, seconds, latencies


def in_turn(
    chains: Sequence[Sequence[T]], job: Callable[[T], Awaitable[None]]
) -> Callable[[int], Awaitable[None]]:
    """An op for ``run_for``: ``job`` of the next item of the chain unused longest. A chain
    is never in two calls at once and its items go in order, across every slice of its
    side (bench/readings.py: a chain is a meter's readings, day 1 of each meter, then day
    2, ...). As many chains as callers at least."""
    free = collections.deque(iter(chain) for chain in chains)

    async def op(_: int) -> None:
        rows = free.popleft()  # never empty: at least as many chains as callers
        row = next(rows, None)
        if row is None:
            raise RuntimeError("every chain is used up: ask for longer or more chains")
        try:
            await job(row)
        finally:
            free.append(rows)

    return op


@dataclass
class Side:
    """One side of a ratio: what it runs and whose CPU time is its own; ``others``: more
    processes' CPU time over the side's slices, reported beside it (not on its account)."""

    name: str
    op: Callable[[int], Awaitable[None]]
    cpu: Callable[[], float]
    others: dict[str, Callable[[], float]] = field(default_factory=dict)
    work: float = 0.0  # calls, counted as ``run_for`` counts them
    elapsed: float = 0.0
    cpu_seconds: float = 0.0
    others_seconds: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)


async def interleaved(
    seconds: float, slice_seconds: float, concurrency: int, *sides: Side
) -> list[dict[str, Any]]:
    """Each side for ``seconds`` in all, in turns of ``slice_seconds``: ours, the limit,
    ours, the limit…

    Both sides write 100-180 MB/s of WAL, and PostgreSQL checkpoints every few seconds,
    stalling writes for 1-2 s: run one side after the other and whichever side a
    checkpoint falls in loses, so the ratio swung (0.65 to 1.13 in runs of the same code).
    In short alternating slices both sides see the same weather on the same machine."""
    turns = max(1, round(seconds / slice_seconds))
    for _ in range(turns):
        for side in sides:
            cpu = side.cpu()
            others = {name: meter() for name, meter in side.others.items()}
            work, elapsed, latencies = await run_for(seconds / turns, concurrency, side.op)
            side.cpu_seconds += side.cpu() - cpu  # the tail's calls included: all of them
            for name, meter in side.others.items():
                spent = meter() - others[name]
                side.others_seconds[name] = side.others_seconds.get(name, 0.0) + spent
            side.work += work
            side.elapsed += elapsed
            side.latencies += latencies
    results = []
    for side in sides:
        result = summary(side.name, side.work, side.elapsed, side.latencies)
        result["cpu_us"] = side.cpu_seconds / max(1, len(side.latencies)) * 1e6
        for name, spent in side.others_seconds.items():
            result[f"{name}_cpu_us"] = spent / max(1, len(side.latencies)) * 1e6
        results.append(result)
    return results


def summary(name: str, work: float, elapsed: float, latencies: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        "name": name,
        "ops": len(latencies),
        "per_second": round(work / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(p99 * 1000, 1),
    }
