"""The entry point every service shares: ``python -m ebok_<service> [serve|migrate|dlq …]``,
plus the service's own commands from ``ServiceSpec.commands``.

``serve --role api|worker|relay|all`` runs one part of the service (see ebok_shared.service);
``migrate`` applies pending migrations once (a job per release), ``migrate --wait SECONDS``
only waits until someone has (the guard in front of every pod that serves)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import aio_pika
import asyncpg
from aiohttp import web

from . import db, serving
from .bus import Topology
from .bus.dlq import list_dead_letters, redrive
from .service import S, ServiceSpec, migration_folders
from .settings import ROLES, ServiceSettings


def main(
    spec: ServiceSpec[S],
    settings_cls: type[S],
    create_app: Callable[[S], web.Application],
    argv: list[str] | None = None,
) -> None:
    parser = argparse.ArgumentParser(prog=f"ebok-{spec.name}")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the HTTP server, relay and consumers (default)")
    serve.add_argument(
        "--role",
        choices=ROLES,
        help="api: HTTP routes; worker: consumers and background loops; relay: the outbox"
        " relay; all: everything (default: EBOK_ROLE, else all)",
    )
    migrate = sub.add_parser("migrate", help="apply pending database migrations and exit")
    migrate.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="apply nothing: wait up to SECONDS until the schema is ready for this code"
        " (exit 1 if it is not)",
    )
    dlq = sub.add_parser("dlq", help="dead-lettered messages of this service's queue")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True)
    dlq_list = dlq_sub.add_parser("list", help="print parked messages as JSON lines")
    dlq_list.add_argument("--limit", type=int, default=100)
    dlq_redrive = dlq_sub.add_parser("redrive", help="move parked messages back to the queue")
    dlq_redrive.add_argument("--id", dest="message_id", help="only this message id")
    for name, command in spec.commands.items():
        command.arguments(sub.add_parser(name, help=command.help))
    args = parser.parse_args(argv)

    def load() -> S:
        return _load(spec, settings_cls)

    if args.command in spec.commands:
        code = spec.commands[args.command].run(args, load)
        if code:
            raise SystemExit(code)
        return
    settings = load()
    if getattr(args, "role", None):
        settings = dataclasses.replace(settings, role=args.role)

    if args.command in (None, "serve"):
        serving.serve(create_app(settings), settings)
    elif args.command == "migrate" and args.wait is not None:
        missing = asyncio.run(_wait_for_schema(spec, settings, args.wait))
        if missing:
            print(
                f"ebok-{spec.name}: the schema is not ready after {args.wait:g} s; pending: "
                + ", ".join(missing),
                file=sys.stderr,
            )
            raise SystemExit(1)
        print(f"ebok-{spec.name}: the schema is ready")
    elif args.command == "migrate":
        applied = asyncio.run(_migrate(spec, settings))
        print(f"ebok-{spec.name}: {applied} migration(s) applied")
    elif args.command == "dlq":
        asyncio.run(_dlq(spec, settings, args))


def _load(spec: ServiceSpec[Any], settings_cls: type[S]) -> S:
    """The settings from the environment, and the logs configured with them."""
    return serving.load_settings(spec.name, settings_cls)


async def _migrate(spec: ServiceSpec[Any], settings: ServiceSettings) -> int:
    conn = await db.connect(settings.database_url)
    try:
        return await db.migrate(conn, migration_folders(spec))
    finally:
        await conn.close()


async def _wait_for_schema(
    spec: ServiceSpec[Any], settings: ServiceSettings, seconds: float
) -> list[str]:
    """What is still pending when ``seconds`` are up (empty: ready); the database may be
    unreachable for a while (a new cluster, a failover): that is waited for too."""
    deadline = time.monotonic() + seconds
    missing = ["(the database did not answer)"]
    while True:
        try:
            conn = await db.connect(settings.database_url)
            try:
                missing = await db.pending(conn, migration_folders(spec))
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError) as exc:
            missing = [f"(the database did not answer: {type(exc).__name__})"]
        if not missing or time.monotonic() >= deadline:
            return missing
        await asyncio.sleep(min(2.0, max(0.0, deadline - time.monotonic())))


async def _dlq(spec: ServiceSpec[Any], settings: ServiceSettings, args: argparse.Namespace) -> None:
    connection = await aio_pika.connect(settings.amqp_url)
    topology = Topology(settings.bus_prefix)
    try:
        if args.dlq_command == "list":
            for parked in await list_dead_letters(connection, topology, spec.name, args.limit):
                print(json.dumps(parked.to_dict(), ensure_ascii=False))
        else:
            moved = await redrive(connection, topology, spec.name, message_id=args.message_id)
            print(f"ebok-{spec.name}: {moved} message(s) re-driven")
    finally:
        await connection.close()
