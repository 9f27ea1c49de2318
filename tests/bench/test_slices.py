"""bench/slices.py: the two sides of a ratio alternate slice by slice, each side's CPU and
calls counted over its own slices only; ``in_turn`` keeps each chain in order and never in
two calls at once. Counts only, no timed assertion."""

from __future__ import annotations

import asyncio
from itertools import count

import pytest

from bench.slices import Side, in_turn, interleaved, run_for


async def test_in_turn_keeps_each_chain_in_order_and_one_call_at_a_time() -> None:
    chains = [[(c, d) for d in range(50)] for c in range(4)]
    busy: set[int] = set()
    done: list[tuple[int, int]] = []

    async def job(item: tuple[int, int]) -> None:
        chain, _ = item
        assert chain not in busy, "a chain in two calls at once"
        busy.add(chain)
        await asyncio.sleep(0)
        busy.discard(chain)
        done.append(item)

    op = in_turn(chains, job)
    await asyncio.gather(*(op(n) for n in range(3)))  # three callers, four chains
    for chain in range(4):
        days = [d for c, d in done if c == chain]
        assert days == sorted(days) == list(range(len(days)))
    for n in range(3, 4 * 50):
        await op(n)
    with pytest.raises(RuntimeError, match="used up"):
        await op(0)


async def test_interleaved_alternates_the_sides_and_counts_each_over_its_own_slices() -> None:
    turns: list[str] = []
    meters = {"ours": count(), "bare": count(), "extra": count()}

    def side(name: str) -> Side:
        async def op(_: int) -> None:
            if not turns or turns[-1] != name:
                turns.append(name)
            await asyncio.sleep(0.001)

        return Side(
            name,
            op,
            lambda: float(next(meters[name])),
            others={"extra": lambda: 10.0 * next(meters["extra"])} if name == "ours" else {},
        )

    ours, bare = await interleaved(0.04, 0.01, 2, side("ours"), side("bare"))
    assert turns == ["ours", "bare"] * 4
    # Each side's CPU meter read twice a slice, one step apart: 1 s over 4 slices.
    assert ours["cpu_us"] == pytest.approx(4 / ours["ops"] * 1e6)
    assert bare["cpu_us"] == pytest.approx(4 / bare["ops"] * 1e6)
    assert ours["extra_cpu_us"] == pytest.approx(40 / ours["ops"] * 1e6)
    assert "extra_cpu_us" not in bare


async def test_run_for_counts_a_call_still_running_at_the_end_by_its_share() -> None:
    async def op(_: int) -> None:
        await asyncio.sleep(0.05)

    work, seconds, latencies = await run_for(0.01, 1, op)
    assert seconds == 0.01 and len(latencies) == 1
    assert 0 < work < 1
