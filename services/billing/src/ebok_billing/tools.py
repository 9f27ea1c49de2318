"""Billing's own command: ``feed FILE…`` (the back office's batches from the command line;
the demo data generator, a development tool, writes batches for it: ``deploy/demo_data.py``)."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from ebok_shared.feed import format_of_file, refused_file
from ebok_shared.service import Command

from .feed import domain as feed
from .settings import BillingSettings


def _feed_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument(
        "--format", choices=feed.FORMATS, help="default: by the file's name, else its content"
    )


def run_feed(args: argparse.Namespace, settings: Callable[[], BillingSettings]) -> int:
    loaded = settings()
    batches = []
    for path in args.files:
        body = path.read_bytes()
        batches.append((path.name, body, format_of_file(path, body, args.format)))
    return asyncio.run(_feed(loaded, batches))


COMMANDS: dict[str, Command[BillingSettings]] = {
    "feed": Command("apply back-office batch files (JSON lines or CSV)", run_feed, _feed_arguments),
}


async def _feed(settings: BillingSettings, batches: list[tuple[str, bytes, str]]) -> int:
    from ebok_shared import db
    from ebok_shared.bus import Outbox
    from ebok_shared.clock import clock
    from ebok_shared.service import migration_folders

    from .app import SPEC
    from .feed.use_cases import apply_batch
    from .interest.use_cases import seed_rates_at_start

    conn = await db.connect(settings.database_url)
    failed = 0
    try:
        await db.migrate(conn, migration_folders(SPEC))
        await seed_rates_at_start(conn)  # under its lock: feed commands may run side by side
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
                print(json.dumps({"file": name, **refused_file(exc.reason)}, ensure_ascii=False))
                failed += 1
                continue
            print(json.dumps({"file": name, **result.to_dict()}, ensure_ascii=False))
            failed += result.status != "applied"
    finally:
        await conn.close()
    return 1 if failed else 0
