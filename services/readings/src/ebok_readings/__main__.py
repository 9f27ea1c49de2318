"""``python -m ebok_readings`` / ``ebok-readings``: serve, migrate, dlq list|redrive, and
``feed readings|meters FILE`` (the back-office feed from the command line)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from ebok_shared import db, logs
from ebok_shared.bus import Outbox
from ebok_shared.cli import main as run
from ebok_shared.clock import clock
from ebok_shared.config import ConfigError
from ebok_shared.feed import BatchResult, BatchTooLarge, format_of_file, refused_file
from ebok_shared.service import migration_folders

from .app import SPEC, create_app
from .domain import feed as feed_rules
from .domain.readings import Rules
from .settings import ReadingsSettings
from .use_cases import feed


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["feed"]:
        raise SystemExit(feed_command(args[1:]))
    run(SPEC, ReadingsSettings, create_app, args)  # type: ignore[arg-type]


def feed_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ebok-readings feed")
    parser.add_argument("kind", choices=feed_rules.KINDS)
    parser.add_argument("file", type=Path)
    parser.add_argument(
        "--format", choices=feed_rules.FORMATS, help="default: by the file's name, else its content"
    )
    parser.add_argument("--by", default="cli", help="who sends the batch (recorded)")
    args = parser.parse_args(argv)
    try:
        settings = ReadingsSettings.from_env()
    except ConfigError as exc:
        print(f"ebok-readings: configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure("readings", settings.log_level)
    try:
        body = args.file.read_bytes()
    except OSError as exc:
        print(f"ebok-readings: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    fmt = format_of_file(args.file, body, args.format)
    try:
        result = asyncio.run(_apply(settings, args.kind, body, fmt, f"cli:{args.by}"))
    except BatchTooLarge as exc:
        print(json.dumps(refused_file(exc.reason), ensure_ascii=False))
        return 1
    print(json.dumps(result.to_dict(), ensure_ascii=False))
    return 0 if result.status == "applied" else 1


async def _apply(
    settings: ReadingsSettings, kind: feed_rules.Kind, body: bytes, fmt: str, by: str
) -> BatchResult:
    """In one transaction with its events in the outbox; the running service's relay
    publishes them."""
    pool = await db.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            await db.migrate(conn, migration_folders(SPEC))
        return await feed.apply(
            pool,
            Outbox(SPEC.catalogue),
            Rules.from_settings(settings),
            kind=kind,
            body=body,
            fmt=fmt,
            received_by=by,
            max_rows=settings.feed_max_rows,
            today=clock.today(),
            now=clock.now(),
        )
    finally:
        await pool.close()


if __name__ == "__main__":
    main()
