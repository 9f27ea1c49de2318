"""The migration runner against real PostgreSQL: order, checksums, replicas, refusals, CLI."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from ebok_shared import db
from ebok_shared.db import MigrationError, load_migrations, migrate

ROOT = Path(__file__).resolve().parents[2]
SHARED = len(load_migrations("shared", db.SHARED_MIGRATIONS))  # the tables every database has

FIRST = "CREATE TABLE readings (id int PRIMARY KEY, value int NOT NULL);\n"
SECOND = "ALTER TABLE readings ADD COLUMN meter text;\n"  # fails if run twice, or before FIRST
THIRD = "CREATE TABLE meters (id text PRIMARY KEY);\nINSERT INTO meters VALUES ('M-1');\n"


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (folder / name).write_text(sql, "utf-8")
    return folder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "readings",
        {
            "0001_readings.sql": FIRST,
            "0002_meter_column.sql": SECOND,
            "0003_meters.sql": THIRD,
        },
    )


async def _migrate(dsn: str, components: list[tuple[str, Path]]) -> int:
    conn = await db.connect(dsn)
    try:
        return await migrate(conn, components)
    finally:
        await conn.close()


async def _recorded(dsn: str) -> list[tuple[str, int, str, str]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT component, version, name, checksum FROM schema_migrations"
            " ORDER BY applied_at, component, version"
        )
    finally:
        await conn.close()
    return [(r["component"], r["version"], r["name"], r["checksum"]) for r in rows]


def _sha(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


async def test_applied_in_order_and_recorded_with_checksums(database: str, folder: Path) -> None:
    assert await _migrate(database, [("readings", folder)]) == 3
    assert await _recorded(database) == [
        ("readings", 1, "readings", _sha(FIRST)),
        ("readings", 2, "meter_column", _sha(SECOND)),
        ("readings", 3, "meters", _sha(THIRD)),
    ]
    conn = await asyncpg.connect(database)
    try:
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'readings'"
        )
        assert {c["column_name"] for c in columns} == {"id", "value", "meter"}
        assert await conn.fetchval("SELECT id FROM meters") == "M-1"
    finally:
        await conn.close()


async def test_shared_migrations_come_first(database: str, folder: Path) -> None:
    applied = await _migrate(database, [("shared", db.SHARED_MIGRATIONS), ("readings", folder)])
    assert applied == SHARED + 3
    assert [(c, v) for c, v, _, _ in await _recorded(database)] == [
        *(("shared", v) for v in range(1, SHARED + 1)),
        ("readings", 1),
        ("readings", 2),
        ("readings", 3),
    ]


async def test_rerun_applies_nothing(database: str, folder: Path) -> None:
    assert await _migrate(database, [("readings", folder)]) == 3
    assert await _migrate(database, [("readings", folder)]) == 0
    assert len(await _recorded(database)) == 3


async def test_new_migration_is_applied_on_next_run(database: str, folder: Path) -> None:
    await _migrate(database, [("readings", folder)])
    _write(folder, {"0004_meter_index.sql": "CREATE INDEX readings_meter ON readings (meter);"})
    assert await _migrate(database, [("readings", folder)]) == 1
    assert [v for _, v, _, _ in await _recorded(database)] == [1, 2, 3, 4]


async def test_two_replicas_on_a_fresh_database_apply_each_migration_once(
    database: str, folder: Path
) -> None:
    components = [("shared", db.SHARED_MIGRATIONS), ("readings", folder)]
    first, second = await asyncio.gather(
        _migrate(database, components), _migrate(database, components)
    )
    assert sorted([first, second]) == [0, SHARED + 3]
    recorded = await _recorded(database)
    assert len(recorded) == len(set(recorded)) == SHARED + 3


async def test_failed_migration_is_rolled_back_whole(database: str, tmp_path: Path) -> None:
    bad = _write(
        tmp_path / "bad",
        {
            "0001_ok.sql": FIRST,
            "0002_broken.sql": "CREATE TABLE half (id int);\nSELECT no_such_function();\n",
        },
    )
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await _migrate(database, [("bad", bad)])
    assert [v for _, v, _, _ in await _recorded(database)] == [1]
    conn = await asyncpg.connect(database)
    try:
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        # the lock was released: another session can take it at once
        assert await conn.fetchval("SELECT pg_try_advisory_lock($1)", db._MIGRATION_LOCK)
    finally:
        await conn.close()


async def test_a_migration_and_its_record_commit_together(database: str, tmp_path: Path) -> None:
    # 0002's own SQL succeeds but makes recording it fail: both must be undone together
    folder = _write(
        tmp_path / "atomic",
        {
            "0001_ok.sql": FIRST,
            "0002_unrecordable.sql": (
                "CREATE TABLE half (id int);\n"
                "ALTER TABLE schema_migrations ADD CONSTRAINT only_one CHECK (version < 2);\n"
            ),
        },
    )
    with pytest.raises(asyncpg.CheckViolationError):
        await _migrate(database, [("atomic", folder)])
    assert [v for _, v, _, _ in await _recorded(database)] == [1]
    conn = await asyncpg.connect(database)
    try:
        assert await conn.fetchval("SELECT to_regclass('half')") is None
    finally:
        await conn.close()


async def test_database_newer_than_the_code_is_refused(database: str, folder: Path) -> None:
    await _migrate(database, [("readings", folder)])
    (folder / "0003_meters.sql").unlink()
    with pytest.raises(MigrationError, match=r"readings migration 3 .*only up to 2.*newer"):
        await _migrate(database, [("readings", folder)])


async def test_changed_applied_file_is_refused(database: str, folder: Path) -> None:
    await _migrate(database, [("readings", folder)])
    (folder / "0002_meter_column.sql").write_text(SECOND + "-- tidied\n", "utf-8")
    with pytest.raises(MigrationError, match="0002_meter_column was changed after it was applied"):
        await _migrate(database, [("readings", folder)])


async def test_refusal_applies_nothing(database: str, folder: Path) -> None:
    await _migrate(database, [("readings", folder)])
    (folder / "0001_readings.sql").write_text(FIRST.lower(), "utf-8")
    _write(folder, {"0004_more.sql": "CREATE TABLE more (id int);"})
    with pytest.raises(MigrationError):
        await _migrate(database, [("readings", folder)])
    assert len(await _recorded(database)) == 3


@pytest.mark.parametrize(
    "name", ["1_init.sql", "0002-meters.sql", "0002_Meters.sql", "00002_meters.sql", "0002_.sql"]
)
def test_bad_file_name_is_refused(tmp_path: Path, name: str) -> None:
    folder = _write(tmp_path, {"0001_init.sql": FIRST, name: SECOND})
    with pytest.raises(MigrationError, match=r"NNNN_lower_snake\.sql"):
        load_migrations("readings", folder)


def test_other_files_are_ignored(tmp_path: Path) -> None:
    folder = _write(tmp_path, {"0001_init.sql": FIRST, ".gitkeep": "", "README.md": "# notes"})
    assert [m.version for m in load_migrations("readings", folder)] == [1]


@pytest.mark.parametrize(
    ("names", "reason"),
    [
        (["0001_a.sql", "0003_c.sql"], "expected 0002, found 0003_c.sql"),
        (["0002_b.sql"], "expected 0001, found 0002_b.sql"),
        (["0001_a.sql", "0001_b.sql"], "expected 0002, found 0001_b.sql"),  # repeated
    ],
)
def test_gap_or_repeat_in_versions_is_refused(
    tmp_path: Path, names: list[str], reason: str
) -> None:
    folder = _write(tmp_path, dict.fromkeys(names, FIRST))
    with pytest.raises(MigrationError, match=f"without gaps or repeats: {reason}"):
        load_migrations("readings", folder)


def test_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="no such folder"):
        load_migrations("readings", tmp_path / "migratoins")


def _cli(database: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EBOK_")}
    env |= {"EBOK_DATABASE_URL": database, "EBOK_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "ebok_billing", "migrate", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_migrate_command_against_a_fresh_database(database: str) -> None:
    result = await asyncio.to_thread(_cli, database)
    assert result.returncode == 0, result.stderr
    expected = [("shared", m.version) for m in load_migrations("shared", db.SHARED_MIGRATIONS)] + [
        ("billing", m.version)
        for m in load_migrations("billing", ROOT / "services/billing/src/ebok_billing/migrations")
    ]
    assert result.stdout.splitlines()[-1] == f"ebok-billing: {len(expected)} migration(s) applied"
    assert [(c, v) for c, v, _, _ in await _recorded(database)] == expected


async def test_migrate_wait_is_a_guard_that_applies_nothing(database: str) -> None:
    """The init container of every pod: it waits for the migrate job, it never migrates."""
    waited = await asyncio.to_thread(_cli, database, "--wait", "1")
    assert waited.returncode == 1, waited.stdout
    assert "the schema is not ready after 1 s; pending: shared/0001_" in waited.stderr
    conn = await asyncpg.connect(database)
    try:  # the guard applied nothing, not even the bookkeeping table
        assert await conn.fetchval("SELECT to_regclass('schema_migrations') IS NULL")
    finally:
        await conn.close()

    assert (await asyncio.to_thread(_cli, database)).returncode == 0
    ready = await asyncio.to_thread(_cli, database, "--wait", "1")
    assert ready.returncode == 0, ready.stderr
    assert ready.stdout.splitlines()[-1] == "ebok-billing: the schema is ready"


async def test_pending_accepts_a_newer_database_but_not_a_changed_file(
    database: str, folder: Path
) -> None:
    """Expand/contract: the previous release runs on the schema its successor expanded."""
    older = _write(folder.parent / "older", {"0001_readings.sql": FIRST})
    await _migrate(database, [("readings", folder)])
    conn = await db.connect(database)
    try:
        assert await db.pending(conn, [("readings", older)]) == []
        changed = _write(folder.parent / "changed", {"0001_readings.sql": FIRST + "-- edited\n"})
        with pytest.raises(MigrationError, match="was changed after it was applied"):
            await db.pending(conn, [("readings", changed)])
        more = _write(folder.parent / "more", {"0004_extra.sql": "SELECT 1;\n"})
        for name in ("0001_readings.sql", "0002_meter_column.sql", "0003_meters.sql"):
            (more / name).write_text((folder / name).read_text())
        assert await db.pending(conn, [("readings", more)]) == ["readings/0004_extra"]
    finally:
        await conn.close()
