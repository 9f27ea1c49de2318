"""Billing's own commands: ``feed FILE`` and ``demo --clients N --seed S --out DIR``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ebok_shared.service import Command

from .domain import feed
from .settings import BillingSettings


def _feed_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--format", choices=feed.FORMATS, help="default: from the file's suffix")


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--load", action="store_true", help="apply them to EBOK_DATABASE_URL")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="loading processes (by client)"
    )


def run_demo(args: argparse.Namespace, settings: Callable[[], BillingSettings]) -> int:
    from . import demo

    started = time.perf_counter()
    data = demo.generate(args.clients, args.seed)
    paths = demo.write(data, args.out)
    print(
        f"ebok-billing: wrote {len(paths)} batch file(s) to {args.out} "
        f"in {time.perf_counter() - started:.1f}s",
        file=sys.stderr,
    )
    if args.load:
        demo.load_in_parallel(settings().database_url, data, args.workers)
        print(f"ebok-billing: loaded in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    print(json.dumps(data.demo_client.__dict__))
    return 0


def run_feed(args: argparse.Namespace, settings: Callable[[], BillingSettings]) -> int:
    loaded = settings()
    batches = []
    for path in args.files:
        fmt = args.format or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
        batches.append((path.name, path.read_bytes(), fmt))
    return asyncio.run(_feed(loaded, batches))


COMMANDS: dict[str, Command[BillingSettings]] = {
    "feed": Command("apply back-office batch files (JSON lines or CSV)", run_feed, _feed_arguments),
    "demo": Command(
        "write (and optionally load) deterministic demo batches", run_demo, _demo_arguments
    ),
}


async def _feed(settings: BillingSettings, batches: list[tuple[str, bytes, str]]) -> int:
    from ebok_shared import db
    from ebok_shared.bus import Outbox
    from ebok_shared.clock import clock
    from ebok_shared.service import migration_folders

    from .app import SPEC
    from .use_cases.feed import apply_batch
    from .use_cases.interest import seed_rates

    conn = await db.connect(settings.database_url)
    failed = 0
    try:
        await db.migrate(conn, migration_folders(SPEC))
        async with conn.transaction():
            await seed_rates(conn)
        for name, body, fmt in batches:
            try:
                result = await apply_batch(
                    conn,
                    Outbox(),
                    body,
                    fmt,
                    submitted_by=f"cli:{name}",
                    today=clock.today(),
                    max_rows=settings.feed_max_rows,
                )
            except feed.BatchTooLarge as exc:
                print(
                    json.dumps(
                        {"file": name, "status": "rejected", "error": str(exc)}, ensure_ascii=False
                    )
                )
                failed += 1
                continue
            print(json.dumps({"file": name, **result.to_dict()}, ensure_ascii=False))
            failed += result.status != "applied"
    finally:
        await conn.close()
    return 1 if failed else 0
