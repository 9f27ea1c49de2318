"""Every benchmark in one sitting, one after another (each alone on the machine, within its
minute), and one table of what they printed: figure, limit, ratio, target, met, and the CPU
time per request or event of ours and of the limit's.

    .venv/bin/python bench/all.py [--only gateway billing ...] [--markdown]

Each benchmark is its own process (``bench/<name>.py`` with its defaults); the table is made
of the ``result {...}`` lines they print (bench/report.py). A benchmark that fails or takes
more than ``--timeout`` seconds is a row of its own saying so; one that PostgreSQL turned away
(its connections are shared) is run again, up to ``--retries`` times. The exit code is 0 when every
target is met.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("gateway", "billing", "readings", "notifier", "correspondence", "login", "bus", "web")
COLUMNS = (
    "benchmark",
    "target of",
    "figure",
    "limit",
    "ratio",
    "target",
    "met",
    "CPU µs ours / limit's",
)


def run(name: str, timeout: float) -> tuple[list[dict[str, object]], float, str]:
    """The result rows ``bench/<name>.py`` printed, its wall time, and its output's tail."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, str(HERE / f"{name}.py")],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        output = done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        # text=True makes it str; the stubs type it str | bytes for every call.
        partial = exc.stdout or ""
        if isinstance(partial, bytes):
            partial = partial.decode("utf-8", "replace")
        output = f"{partial}\ntimed out after {timeout:.0f} s"
    took = time.monotonic() - started
    rows = [
        json.loads(line.removeprefix("result "))
        for line in output.splitlines()
        if line.startswith("result {")
    ]
    return rows, took, "\n".join(output.splitlines()[-12:])


def _cpu(row: dict[str, object]) -> str:
    ours, theirs = row.get("cpu_us"), row.get("limit_cpu_us")
    if ours is None:
        return ""
    return f"{ours:,}" + (f" / {theirs:,}" if theirs is not None else "")


def table(results: list[tuple[str, list[dict[str, object]], float]], markdown: bool) -> str:
    lines: list[list[str]] = []
    for bench, rows, took in results:
        if not rows:
            lines.append([bench, "(no result: see its output above)", "", "", "", "", "NO", ""])
        for row in rows:
            ratio = row["ratio"]
            lines.append(
                [
                    f"{bench} ({took:.0f} s)",
                    str(row["name"]),
                    str(row["figure"]),
                    str(row["limit"]),
                    "" if ratio is None else f"{ratio:.2f}",
                    str(row["target"]),
                    "met" if row["met"] else "NOT met",
                    _cpu(row),
                ]
            )
    if markdown:
        out = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
        out += ["| " + " | ".join(cells) + " |" for cells in lines]
        return "\n".join(out)
    widths = [max(len(c), *(len(cells[i]) for cells in lines)) for i, c in enumerate(COLUMNS)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*COLUMNS), *(fmt.format(*cells) for cells in lines)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="these benchmarks only")
    parser.add_argument("--timeout", type=float, default=150.0, help="seconds per benchmark")
    parser.add_argument("--markdown", action="store_true", help="the table as Markdown")
    parser.add_argument(
        "--retries", type=int, default=2, help="runs again of one PostgreSQL turned away"
    )
    args = parser.parse_args()
    results = []
    for name in args.only or BENCHMARKS:
        print(f"== {name}", flush=True)
        rows, took, tail = run(name, args.timeout)
        for _ in range(args.retries):
            if rows or "too many clients" not in tail:
                break
            # PostgreSQL's connections are shared with whoever else uses this machine.
            print("   PostgreSQL had no connection to spare; again in 30 s", flush=True)
            time.sleep(30)
            rows, took, tail = run(name, args.timeout)
        print(tail if not rows else "\n".join(f"   {r['name']}: {r['ratio']}" for r in rows))
        results.append((name, rows, took))
    print()
    print(table(results, args.markdown))
    met = all(rows and all(r["met"] for r in rows) for _, rows, _ in results)
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
