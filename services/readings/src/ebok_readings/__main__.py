"""``python -m ebok_readings`` / ``ebok-readings``: serve, migrate, dlq list|redrive, and
``feed readings|meters FILE`` (the back-office feed from the command line)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

from ebok_shared import db
from ebok_shared.bus import Outbox
from ebok_shared.cli import main as run
from ebok_shared.clock import clock
from ebok_shared.feed import BatchResult, BatchTooLarge, format_of_file, refused_file
from ebok_shared.service import Command, migration_folders

from .app import SPEC, create_app
from .feed import domain as feed_rules
from .feed import use_cases as feed
from .readings.domain import Rules
from .settings import ReadingsSettings


def _feed_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=feed_rules.KINDS)
    parser.add_argument("file", type=Path)
    parser.add_argument(
        "--format", choices=feed_rules.FORMATS, help="default: by the file's name, else its content"
    )
    parser.add_argument("--by", default="cli", help="who sends the batch (recorded)")


def feed_command(args: argparse.Namespace, load: Callable[[], ReadingsSettings]) -> int:
    settings = load()
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


COMMANDS = {
    "feed": Command(
        "apply a back-office batch file (readings or meters)", feed_command, _feed_arguments
    )
}


def main(argv: list[str] | None = None) -> None:
    run(dataclasses.replace(SPEC, commands=COMMANDS), ReadingsSettings, create_app, argv)


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
