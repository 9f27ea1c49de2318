"""What every benchmark prints at its end, one way: a verdict line per target,

    ratio <name>: <x> (target ≥ <y>: met|NOT met)      a figure against its limit
    bound <name>: <v> <unit> (target ≤ <y>: met|NOT met)  a figure against a fixed bound

each followed by a ``result {...}`` JSON line that ``bench/all.py`` gathers into its table;
and the CPU time a process spent (Linux /proc), the steadier figure on a shared machine.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def cpu_seconds(*pids: int | None) -> float:
    """User + system CPU time so far of the processes ``pids`` (Linux /proc; gone ones: 0)."""
    return sum(cpu_seconds_of(f"/proc/{pid}/stat") for pid in pids if pid is not None)


def cpu_seconds_of(stat: str) -> float:
    """User + system CPU time so far of a process or thread (``/proc/<pid>/stat``, or
    ``/proc/<pid>/task/<tid>/stat`` for one thread; gone: 0)."""
    try:
        fields = Path(stat).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """This process's user + system CPU time so far."""
    times = os.times()
    return times.user + times.system


def _emit(row: dict[str, object]) -> None:
    print("result " + json.dumps(row, ensure_ascii=False), flush=True)


def ratio(
    name: str,
    figure: float,
    limit: float,
    target: float,
    unit: str,
    *,
    cpu_us: float | None = None,
    limit_cpu_us: float | None = None,
) -> bool:
    """``figure`` / ``limit`` (both in ``unit``, higher is better) against ``target``."""
    value = figure / limit if limit else 0.0
    met = value >= target
    print(f"ratio {name}: {value:.2f} (target ≥ {target}: {'met' if met else 'NOT met'})")
    _emit(
        {
            "name": name,
            "figure": f"{figure:,.1f} {unit}",
            "limit": f"{limit:,.1f} {unit}",
            "ratio": round(value, 2),
            "target": f"≥ {target}",
            "met": met,
            "cpu_us": None if cpu_us is None else round(cpu_us),
            "limit_cpu_us": None if limit_cpu_us is None else round(limit_cpu_us),
        }
    )
    return met


def bound(name: str, figure: float, target: float, unit: str, *, at_least: bool = False) -> bool:
    """``figure`` against a fixed bound: at most ``target`` (or, ``at_least``, no less)."""
    met = figure >= target if at_least else figure <= target
    sign = "≥" if at_least else "≤"
    verdict = "met" if met else "NOT met"
    print(f"bound {name}: {figure:,.1f} {unit} (target {sign} {target:g} {unit}: {verdict})")
    _emit(
        {
            "name": name,
            "figure": f"{figure:,.1f} {unit}",
            "limit": "",
            "ratio": None,
            "target": f"{sign} {target:g} {unit}",
            "met": met,
            "cpu_us": None,
            "limit_cpu_us": None,
        }
    )
    return met
