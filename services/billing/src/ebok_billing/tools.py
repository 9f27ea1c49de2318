"""Billing's own command: ``feed FILE…`` (the back office's batches from the command line;
the demo data generator, a development tool, writes batches for it: ``deploy/demo_data.py``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from ebok_shared import logs
from ebok_shared.config import ConfigError
from ebok_shared.feed import format_of_file, refused_file

from .domain import feed
from .settings import BillingSettings

COMMANDS = ("feed",)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ebok-billing")
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("feed", help="apply back-office batch files (JSON lines or CSV)")
    f.add_argument("files", nargs="+", type=Path)
    f.add_argument(
        "--format", choices=feed.FORMATS, help="default: by the file's name, else its content"
    )
    args = parser.parse_args(argv)

    settings = _settings()
    logs.configure("billing", settings.log_level)
    batches = []
    for path in args.files:
        body = path.read_bytes()
        batches.append((path.name, body, format_of_file(path, body, args.format)))
    return asyncio.run(_feed(settings, batches))


def _settings() -> BillingSettings:
    try:
        return BillingSettings.from_env()
    except ConfigError as exc:
        print(f"ebok-billing: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


async def _feed(settings: BillingSettings, batches: list[tuple[str, bytes, str]]) -> int:
    from ebok_shared import db
    from ebok_shared.bus import Outbox
    from ebok_shared.clock import clock
    from ebok_shared.service import migration_folders

    from .app import SPEC
    from .use_cases.feed import apply_batch
    from .use_cases.interest import seed_rates_at_start

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
