"""The shared back-office feed: format, line errors, the all-or-nothing flow once per content
(against real PostgreSQL), and the services' earlier batch history moved to the one table."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from ebok_shared import db
from ebok_shared.feed import (
    MAX_ERRORS,
    BatchTooLarge,
    Counts,
    LineErrors,
    checksum,
    csv_records,
    decode,
    detect_format,
    format_of_file,
    jsonl_records,
    refused_file,
)
from ebok_shared.feed.apply import Apply, apply_batch

ROOT = Path(__file__).resolve().parents[2]
BILLING = ROOT / "services/billing/src/ebok_billing/migrations"
READINGS = ROOT / "services/readings/src/ebok_readings/migrations"


def test_the_format_by_content_type_or_by_asking() -> None:
    assert detect_format("text/csv") == "csv"
    assert detect_format("application/x-ndjson") == "jsonl"
    assert detect_format("application/json") == "jsonl"
    assert detect_format("application/xml") is None
    assert detect_format("application/xml", "csv") == "csv"
    assert detect_format("text/csv", "xml") is None


def test_a_files_format_by_name_then_by_content() -> None:
    assert format_of_file("odczyty.CSV", b'{"a": "1"}\n') == "csv"
    assert format_of_file("partia.ndjson", b"a,b\n") == "jsonl"
    assert format_of_file("partia.txt", b'\xef\xbb\xbf\n  {"a": "1"}\n') == "jsonl"
    assert format_of_file("partia.txt", b"meter_serial,value\n") == "csv"
    assert format_of_file("partia.csv", b"", explicit="jsonl") == "jsonl"


def test_line_errors_keep_the_first_thousand_count_all_and_sort_by_line() -> None:
    errors = LineErrors()
    assert not errors
    for line in range(MAX_ERRORS + 5, 0, -1):
        errors.add(line, "value", "zła wartość")
    assert errors.count == MAX_ERRORS + 5 and len(errors.items) == MAX_ERRORS
    shown = errors.to_list()
    assert shown[0] == {"line": 6, "field": "value", "reason": "zła wartość"}
    assert [e["line"] for e in shown] == sorted(e["line"] for e in shown)


def test_a_file_not_in_utf8_names_its_first_bad_line() -> None:
    errors = LineErrors()
    assert decode(b"a,b\n1,2\n\xff\n", errors) is None
    assert errors.to_list() == [
        {"line": 3, "field": "(wiersz)", "reason": "plik nie jest zapisany w kodowaniu UTF-8"}
    ]
    assert decode("\ufeffzażółć".encode(), LineErrors()) == "zażółć"


def test_too_large_is_a_413_refusal_and_one_cli_line() -> None:
    refused = BatchTooLarge(10)
    assert (refused.status, refused.code) == (413, "batch-too-large")
    assert refused_file(refused.reason)["errors"] == [
        {"line": 0, "field": "(plik)", "reason": "partia może mieć najwyżej 10 wierszy"}
    ]


# -- the flow against PostgreSQL -----------------------------------------------------------------


@pytest.fixture
async def conn(database: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await db.connect(database)
    await db.migrate(connection, [("shared", db.SHARED_MIGRATIONS)])
    await connection.execute("CREATE TABLE things (name text PRIMARY KEY)")
    yield connection
    await connection.close()


def _things(names: list[str]) -> Apply:
    async def apply(c: asyncpg.Connection, batch_id: uuid.UUID, errors: LineErrors) -> Counts:
        counts = Counts(summary={"by": str(batch_id)})
        for line, name in enumerate(names, start=1):
            if name.startswith("!"):
                errors.add(line, "name", "odmowa")
                continue
            added = await c.execute("INSERT INTO things VALUES ($1) ON CONFLICT DO NOTHING", name)
            if added.endswith("1"):
                counts.applied += 1
            else:
                counts.unchanged += 1
        return counts

    return apply


async def _nothing(_conn: asyncpg.Connection) -> None:
    return None


async def _batch(
    conn: asyncpg.Connection, names: list[str], errors: LineErrors | None = None
) -> dict[str, object]:
    body = "\n".join(json.dumps({"name": n}) for n in names).encode()
    result = await apply_batch(
        conn,
        kind="things",
        body=body,
        fmt="jsonl",
        row_count=len(names),
        errors=errors or LineErrors(),
        submitted_by="test",
        lock=_nothing,
        apply=_things(names),
    )
    return result.to_dict()


async def test_a_batch_applies_once_per_content(conn: asyncpg.Connection) -> None:
    first = await _batch(conn, ["a", "b"])
    assert (first["status"], first["replayed"], first["applied"], first["unchanged"]) == (
        "applied",
        False,
        2,
        0,
    )
    assert first["summary"] == {"by": first["batch_id"]}
    again = await _batch(conn, ["a", "b"])
    assert (again["replayed"], again["batch_id"], again["applied"]) == (
        True,
        first["batch_id"],
        2,
    )
    overlapping = await _batch(conn, ["b", "c"])
    assert (overlapping["applied"], overlapping["unchanged"]) == (1, 1)
    assert await conn.fetchval("SELECT count(*) FROM back_office_batches") == 2


async def test_a_batch_with_an_error_applies_nothing_and_is_recorded(
    conn: asyncpg.Connection,
) -> None:
    refused = await _batch(conn, ["a", "!b", "c"])
    assert (refused["status"], refused["applied"], refused["error_count"]) == ("rejected", 0, 1)
    assert refused["errors"] == [{"line": 2, "field": "name", "reason": "odmowa"}]
    assert await conn.fetchval("SELECT count(*) FROM things") == 0
    # errors found while reading: the rows are not even tried, the batch is recorded
    read = LineErrors()
    read.add(1, "(wiersz)", "niepoprawny JSON")
    unread = await _batch(conn, ["x"], read)
    assert (unread["status"], unread["error_count"]) == ("rejected", 1)
    assert await conn.fetchval("SELECT count(*) FROM things") == 0
    kept = await conn.fetch("SELECT status, checksum FROM back_office_batches ORDER BY 1")
    assert [r["status"] for r in kept] == ["rejected", "rejected"]
    # a rejected batch is no replay: the same bytes are checked again
    again = await _batch(conn, ["a", "!b", "c"])
    assert again["replayed"] is False and again["batch_id"] != refused["batch_id"]


# -- the services' batch history moves to the shared table ---------------------------------------


def _older(tmp_path: Path, name: str, source: Path, versions: int) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for path in sorted(source.glob("*.sql"))[:versions]:
        shutil.copy(path, folder / path.name)
    return folder


async def test_billings_batch_history_is_kept(tmp_path: Path, database: str) -> None:
    shared = _older(tmp_path, "shared", db.SHARED_MIGRATIONS, 1)
    old = [("shared", shared), ("billing", _older(tmp_path, "billing", BILLING, 2))]
    conn = await db.connect(database)
    try:
        await db.migrate(conn, old)
        billed = uuid.uuid4()
        summary = {
            "clients": {"created": 1, "updated": 0, "unchanged": 2},
            "contracts": {"created": 0, "updated": 1, "unchanged": 0},
            "invoices": {"created": 3, "updated": 0, "unchanged": 1},
            "payments": {"created": 0, "updated": 0, "unchanged": 0},
            "interest_notes": 0,
            "events": 5,
        }
        await conn.execute(
            """INSERT INTO feed_batches (batch_id, checksum, format, status, row_count,
                   submitted_by, summary) VALUES ($1, $2, 'csv', 'applied', 8, 'operator:o', $3)""",
            billed,
            checksum(b"billing"),
            summary,
        )
        await db.migrate(conn, [("shared", db.SHARED_MIGRATIONS), ("billing", BILLING)])
        moved = await conn.fetchrow("SELECT * FROM back_office_batches WHERE batch_id = $1", billed)
        assert (moved["kind"], moved["format"], moved["status"], moved["row_count"]) == (
            "billing",
            "csv",
            "applied",
            8,
        )
        assert (moved["applied"], moved["unchanged"], moved["summary"]) == (5, 3, summary)
        assert await conn.fetchval("SELECT to_regclass('feed_batches')") is None
    finally:
        await conn.close()


async def test_readings_batch_history_is_kept(tmp_path: Path, database: str) -> None:
    shared = _older(tmp_path, "shared", db.SHARED_MIGRATIONS, 1)
    old = [("shared", shared), ("readings", _older(tmp_path, "readings", READINGS, 1))]
    conn = await db.connect(database)
    try:
        await db.migrate(conn, old)
        read = uuid.uuid4()
        await conn.execute(
            """INSERT INTO feed_batches (id, kind, sha256, rows, applied, received_by,
                   received_at) VALUES ($1, 'meters', $2, 4, 3, 'cli:nightly', now())""",
            read,
            checksum(b"meters"),
        )
        await db.migrate(conn, [("shared", db.SHARED_MIGRATIONS), ("readings", READINGS)])
        moved = await conn.fetchrow("SELECT * FROM back_office_batches WHERE batch_id = $1", read)
        assert (moved["kind"], moved["status"], moved["submitted_by"], moved["format"]) == (
            "meters",
            "applied",
            "cli:nightly",
            None,
        )
        assert (moved["row_count"], moved["applied"], moved["unchanged"]) == (4, 3, 1)
        assert await conn.fetchval("SELECT to_regclass('feed_batches')") is None
    finally:
        await conn.close()


def test_json_lines_are_read_once_for_every_feed() -> None:
    """billing's and readings' feeds read JSON lines here: numbered objects, line errors."""
    errors = LineErrors()
    text = '{"a": "1"}\n\n[1, 2]\n{"b": \n{"c": "\u2028"}\r\n'
    assert list(jsonl_records(text, errors)) == [(1, {"a": "1"}), (5, {"c": "\u2028"})]
    assert errors.to_list() == [
        {"line": 3, "field": "(wiersz)", "reason": "wiersz musi być obiektem JSON"},
        {"line": 4, "field": "(wiersz)", "reason": "wiersz nie jest poprawnym obiektem JSON"},
    ]


def test_csv_rows_are_read_once_for_every_feed() -> None:
    """billing's and readings' feeds read CSV here: the header names the columns, each row
    is numbered by its line, empty cells are left out, faults are line errors."""
    errors = LineErrors()
    text = 'type,name,amount\nclient,"Jan, syn",\n\npayment,x\npayment,y,"1"\n'
    rows = list(csv_records(text, errors, ("type", "name", "amount"), required=("type",)))
    assert rows == [
        (2, {"type": "client", "name": "Jan, syn"}),
        (5, {"type": "payment", "name": "y", "amount": "1"}),
    ]
    assert errors.to_list() == [
        {"line": 4, "field": "(wiersz)", "reason": "oczekiwano 3 kolumn, jest 2"}
    ]

    header = LineErrors()
    assert list(csv_records("name,name,colour\nx,y,z\n", header, ("type", "name"), ("type",))) == []
    assert header.to_list() == [
        {"line": 1, "field": "colour", "reason": "nieznana kolumna"},
        {"line": 1, "field": "type", "reason": "brak kolumny"},
        {"line": 1, "field": "name", "reason": "powtórzona kolumna"},
    ]
    empty = LineErrors()
    assert list(csv_records("", empty, ("type",))) == [] and not empty
