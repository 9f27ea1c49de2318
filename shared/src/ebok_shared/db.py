"""PostgreSQL: the asyncpg pool and the migration runner.

Migrations are plain SQL files ``NNNN_name.sql`` in a folder per component (the shared
tables first, then the service's own), applied in order inside one transaction each,
recorded in ``schema_migrations`` with a checksum. A session advisory lock makes two
replicas starting together apply them once. A database that has a migration the code
does not know (it is newer than the code) or whose applied file changed stops start-up.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from .logs import get_logger

log = get_logger(__name__)

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x0EB0C_0001  # advisory lock key, the same in every service database
_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    component: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(component: str, folder: Path) -> list[Migration]:
    if not folder.is_dir():  # a mistyped path must not look like "no migrations"
        raise MigrationError(f"{component} migrations: no such folder {folder}")
    found = []
    for expected, path in enumerate(sorted(folder.glob("*.sql")), start=1):
        match = _FILE_RE.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration file names are NNNN_lower_snake.sql")
        if int(match[1]) != expected:
            raise MigrationError(
                f"{folder}: versions must run 1, 2, 3… without gaps or repeats: expected "
                f"{expected:04d}, found {path.name}"
            )
        found.append(Migration(component, int(match[1]), match[2], path.read_text("utf-8")))
    return found


async def migrate(conn: asyncpg.Connection, components: Sequence[tuple[str, Path]]) -> int:
    """Apply pending migrations; returns how many were applied."""
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   component text NOT NULL,
                   version int NOT NULL,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (component, version))"""
        )
        applied = {
            (r["component"], r["version"]): r["checksum"]
            for r in await conn.fetch("SELECT component, version, checksum FROM schema_migrations")
        }
        count = 0
        for component, folder in components:
            known = load_migrations(component, folder)
            newer = [v for (c, v) in applied if c == component and v > len(known)]
            if newer:
                raise MigrationError(
                    f"database has {component} migration {max(newer)} but this code knows "
                    f"only up to {len(known)}: the database is newer than the code"
                )
            for m in known:
                done = applied.get((component, m.version))
                if done is not None:
                    if done != m.checksum:
                        raise MigrationError(
                            f"{component} migration {m.version:04d}_{m.name} was changed "
                            "after it was applied; add a new migration instead"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(m.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (component, version, name, checksum)"
                        " VALUES ($1, $2, $3, $4)",
                        component,
                        m.version,
                        m.name,
                        m.checksum,
                    )
                log.info("migration applied", component=component, version=m.version, name=m.name)
                count += 1
        return count
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)


async def pending(conn: asyncpg.Connection, components: Sequence[tuple[str, Path]]) -> list[str]:
    """The migrations this code knows that the database has not applied yet (none: the schema
    is ready for this code), as ``component/NNNN_name``; without taking the lock.

    A database newer than the code is ready for it: with expand/contract migrations the
    previous release keeps running on the expanded schema during a rollout. A changed applied
    file is an error, as in ``migrate``.
    """
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    rows = (
        await conn.fetch("SELECT component, version, checksum FROM schema_migrations")
        if exists
        else []
    )
    applied = {(r["component"], r["version"]): r["checksum"] for r in rows}
    missing = []
    for component, folder in components:
        for m in load_migrations(component, folder):
            done = applied.get((component, m.version))
            if done is None:
                missing.append(f"{component}/{m.version:04d}_{m.name}")
            elif done != m.checksum:
                raise MigrationError(
                    f"{component} migration {m.version:04d}_{m.name} was changed after it was "
                    "applied; add a new migration instead"
                )
    return missing


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def connect(dsn: str, *, name: str | None = None) -> asyncpg.Connection:
    """A dedicated connection (for LISTEN and session advisory locks, which pools reset);
    ``name``, when given, is its ``application_name`` (which loop it is, in pg_stat_activity)."""
    conn = await asyncpg.connect(
        dsn, server_settings={"application_name": name} if name is not None else None
    )
    await _init_connection(conn)
    return conn


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A connection going back to the pool keeps its session as it is: pool connections
    carry no session state (``SET LOCAL`` only; LISTEN and session advisory locks live on
    dedicated connections, ``connect``), so asyncpg's default reset — ``RESET ALL``,
    ``UNLISTEN *``, ``pg_advisory_unlock_all()``, ``CLOSE ALL``: one more round trip on every
    request — has nothing to undo. asyncpg still rolls back a transaction left open."""


async def create_pool(
    dsn: str, *, min_size: int = 2, max_size: int = 10, **kw: Any
) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session,
        **kw,
    )
    assert pool is not None
    return pool


def unreachable(exc: BaseException) -> bool:
    """The database cannot be used now (down, restarting, out of connections, or the
    connection was cut): trouble of the moment, not of the work that met it."""
    return isinstance(
        exc,
        OSError  # refused, reset, no route
        | TimeoutError  # connecting took too long
        | asyncpg.PostgresConnectionError  # class 08
        | asyncpg.CannotConnectNowError  # starting up, shutting down, in recovery
        | asyncpg.AdminShutdownError
        | asyncpg.CrashShutdownError
        | asyncpg.TooManyConnectionsError
        | asyncpg.ConnectionDoesNotExistError,  # the connection was lost mid-statement
    )


async def ensure_database(admin_dsn: str, name: str) -> bool:
    """Create database ``name`` if missing (local run and tests). Returns True if created."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"unsafe database name {name!r}")
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
        return not exists
    finally:
        await conn.close()


async def drop_database(admin_dsn: str, name: str) -> None:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"unsafe database name {name!r}")
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
