"""The back-office feed: batches of readings taken by inspectors and remote reading, and of
meter installations, replacements and removals.

A batch is JSON lines (one object per line) or CSV (a header row naming the columns); both
give the same flat records of strings. Rows are applied in order, in one transaction, each
through the same rules as everything else (a row may rely on an earlier one: install a
meter, then read it). A row the rules refuse is reported with its line, field and reason;
a batch with any error applies nothing. A batch is idempotent: the same file again is
recognised by its checksum, and a row that restates what is already recorded changes
nothing, so re-sending a batch (or one overlapping an earlier one) is harmless.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg
from ebok_shared.bus import Outbox

from . import domain, operations
from . import repository as repo
from .domain import CONTRACT_NUMBER_RE, FEED_SOURCES, METER_SERIAL_RE, SEAL_NUMBER_RE, Refusal

Kind = Literal["readings", "meters"]
KINDS: tuple[Kind, ...] = ("readings", "meters")
FORMATS = ("jsonl", "csv")
MAX_ERRORS = 1000

READING_COLUMNS = ("meter_serial", "read_on", "value", "source")
METER_COLUMNS = (
    "action",
    "serial",
    "kind",
    "contract_number",
    "date",
    "initial_value",
    "final_value",
    "old_serial",
    "seal_number",
)
COLUMNS = {"readings": READING_COLUMNS, "meters": METER_COLUMNS}
ACTIONS = ("install", "remove", "replace")
ACTION_FIELDS = {
    "install": ("serial", "kind", "contract_number", "date", "initial_value"),
    "remove": ("serial", "date", "final_value"),
    "replace": ("old_serial", "final_value", "serial", "date", "initial_value"),
}
ACTION_OPTIONAL = {"install": ("seal_number",), "remove": (), "replace": ("seal_number",)}


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    field: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "reason": self.reason}


@dataclass
class Outcome:
    batch_id: uuid.UUID | None = None
    rows: int = 0
    applied: int = 0
    unchanged: int = 0
    repeated: bool = False  # the very same file was applied before
    errors: list[LineError] = field(default_factory=list)
    error_count: int = 0

    def error(self, line: int, field_name: str, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(LineError(line, field_name, reason))

    def to_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "status": "rejected"
            if self.error_count
            else ("already-applied" if self.repeated else "applied"),
            "batch_id": str(self.batch_id) if self.batch_id else None,
            "rows": self.rows,
            "applied": self.applied,
            "unchanged": self.unchanged,
        }
        if self.error_count:
            shown["error_count"] = self.error_count
            shown["errors"] = [e.to_dict() for e in self.errors]
        return shown


class BatchRefused(Exception):
    """Rolls the batch back; carries the outcome with its errors."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(f"{outcome.error_count} error(s)")
        self.outcome = outcome


class UnreadableBatch(ValueError):
    """The file itself cannot be read (not UTF-8, no header, too many rows)."""


def detect_format(content_type: str, explicit: str | None) -> str | None:
    if explicit:
        return explicit if explicit in FORMATS else None
    ct = content_type.lower()
    if ct in ("text/csv", "application/csv"):
        return "csv"
    if ct in (
        "application/x-ndjson",
        "application/jsonl",
        "application/x-jsonlines",
        "application/json-lines",
        "application/json",
    ):
        return "jsonl"
    return None


def read_rows(
    body: bytes, fmt: str, kind: Kind, max_rows: int, outcome: Outcome
) -> list[tuple[int, dict[str, str]]]:
    """Numbered records of strings; malformed lines and unknown columns are line errors."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableBatch("plik nie jest zapisany w UTF-8") from None
    columns = COLUMNS[kind]
    rows: list[tuple[int, dict[str, str]]] = []
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if not reader.fieldnames:
            raise UnreadableBatch("brak wiersza nagłówka z nazwami kolumn")
        for name in reader.fieldnames:
            if name not in columns:
                outcome.error(1, name, "nieznana kolumna")
        for record in reader:
            if len(rows) >= max_rows:
                raise UnreadableBatch(f"partia może mieć najwyżej {max_rows} wierszy")
            if None in record:
                outcome.error(reader.line_num, "(wiersz)", "więcej wartości niż kolumn")
                continue
            values = {k: (v or "").strip() for k, v in record.items() if k in columns}
            rows.append((reader.line_num, {k: v for k, v in values.items() if v != ""}))
        return rows
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(rows) >= max_rows:
            raise UnreadableBatch(f"partia może mieć najwyżej {max_rows} wierszy")
        try:
            record = json.loads(line)
        except ValueError:
            outcome.error(number, "(wiersz)", "niepoprawny JSON")
            continue
        if not isinstance(record, dict):
            outcome.error(number, "(wiersz)", "wiersz musi być obiektem JSON")
            continue
        values = {}
        for name, value in record.items():
            if name not in columns:
                outcome.error(number, name, "nieznane pole")
            elif value is None or value == "":
                continue
            elif not isinstance(value, str):
                outcome.error(number, name, 'wartość musi być tekstem (np. "123.456")')
            else:
                values[name] = value.strip()
        rows.append((number, values))
    return rows


# -- one row -------------------------------------------------------------------------------------


def _need(row: dict[str, str], names: tuple[str, ...]) -> None:
    for name in names:
        if name not in row:
            raise domain.invalid(name, "pole jest wymagane")


def _serial(row: dict[str, str], name: str) -> str:
    value = row[name]
    if not METER_SERIAL_RE.match(value):
        raise domain.invalid(name, "nieprawidłowy numer wodomierza")
    return value


async def _known_meter(conn: asyncpg.Connection, serial: str, name: str) -> Any:
    meter = await repo.meter(conn, serial, lock=True)
    if meter is None:
        raise domain.invalid(name, "nieznany wodomierz")
    return meter


async def _reading_row(
    conn: asyncpg.Connection,
    outbox: Outbox,
    rules: operations.Rules,
    row: dict[str, str],
    by: str,
    today: dt.date,
    now: dt.datetime,
) -> bool:
    _need(row, READING_COLUMNS)
    serial = _serial(row, "meter_serial")
    read_on = domain.parse_date(row["read_on"], "read_on")
    value = domain.parse_m3(row["value"], "value")
    source = row["source"]
    if source not in FEED_SOURCES:
        raise domain.invalid("source", "dozwolone wartości: " + ", ".join(FEED_SOURCES))
    meter = await _known_meter(conn, serial, "meter_serial")
    recorded = await repo.feed_reading(conn, serial, read_on, source)
    if recorded is not None:
        if recorded["value"] == value:
            return False
        raise domain.invalid(
            "value",
            f"dla tego dnia i źródła zapisano już inny stan ({domain.pl_m3(recorded['value'])})",
        )
    await operations.record_reading(
        conn,
        outbox,
        rules,
        meter,
        value=value,
        read_on=read_on,
        source=source,
        submitted_by=by,
        today=today,
        now=now,
    )
    return True


async def _meter_row(
    conn: asyncpg.Connection,
    outbox: Outbox,
    rules: operations.Rules,
    row: dict[str, str],
    by: str,
    today: dt.date,
    now: dt.datetime,
) -> bool:
    _need(row, ("action",))
    action = row["action"]
    if action not in ACTIONS:
        raise domain.invalid("action", "dozwolone wartości: " + ", ".join(ACTIONS))
    _need(row, ACTION_FIELDS[action])
    allowed = {"action", *ACTION_FIELDS[action], *ACTION_OPTIONAL[action]}
    for name in row:
        if name not in allowed:
            raise domain.invalid(name, "pole nie dotyczy tej czynności")
    serial = _serial(row, "serial")
    day = domain.parse_date(row["date"], "date")
    if day > today:
        raise domain.invalid("date", "data nie może być z przyszłości")
    seal = row.get("seal_number")
    if seal is not None and not SEAL_NUMBER_RE.match(seal):
        raise domain.invalid("seal_number", "nieprawidłowy numer plomby")
    if action == "install":
        return await _install(conn, outbox, rules, row, serial, day, seal, by, now)
    if action == "remove":
        final = domain.parse_m3(row["final_value"], "final_value")
        meter = await _known_meter(conn, serial, "serial")
        if meter["removed_on"] is not None:
            if meter["removed_on"] == day and meter["final_value"] == final:
                return False
            raise operations.meter_removed_refusal(meter)
        await operations.check_final(
            conn, meter, day, final, date_field="date", value_field="final_value"
        )
        await operations.remove_meter(
            conn,
            outbox,
            meter,
            removed_on=day,
            final_value=final,
            source="inspector",
            by=by,
            now=now,
        )
        return True
    old_serial = _serial(row, "old_serial")
    final = domain.parse_m3(row["final_value"], "final_value")
    initial = domain.parse_m3(row["initial_value"], "initial_value")
    old = await _known_meter(conn, old_serial, "old_serial")
    if old["replaced_by"] == serial and old["removed_on"] == day and old["final_value"] == final:
        return False
    await operations.check_final(
        conn, old, day, final, date_field="date", value_field="final_value"
    )
    await operations.check_new_serial(conn, serial, "serial")
    await operations.replace_meter(
        conn,
        outbox,
        rules,
        old,
        new_serial=serial,
        replaced_on=day,
        final_value=final,
        initial_value=initial,
        seal_number=seal,
        source="inspector",
        by=by,
        now=now,
    )
    return True


async def _install(
    conn: asyncpg.Connection,
    outbox: Outbox,
    rules: operations.Rules,
    row: dict[str, str],
    serial: str,
    day: dt.date,
    seal: str | None,
    by: str,
    now: dt.datetime,
) -> bool:
    kind = row["kind"]
    if kind not in ("main", "garden"):
        raise domain.invalid("kind", "dozwolone wartości: main, garden")
    number = row["contract_number"]
    if not CONTRACT_NUMBER_RE.match(number):
        raise domain.invalid("contract_number", "nieprawidłowy numer umowy")
    initial = domain.parse_m3(row["initial_value"], "initial_value")
    contract = await repo.contract(conn, number)
    if contract is None:
        raise domain.invalid("contract_number", "nieznana umowa")
    if day < contract["concluded_on"]:
        raise domain.invalid(
            "date",
            "data jest wcześniejsza niż zawarcie umowy "
            f"({domain.pl_date(contract['concluded_on'])})",
        )
    existing = await repo.meter(conn, serial)
    if (
        existing is not None
        and existing["initial_value"] == initial
        and existing["installed_on"] == day
        and existing["kind"] == kind
        and existing["contract_number"] == number
    ):
        return False
    await operations.install_meter(
        conn,
        outbox,
        rules,
        serial=serial,
        kind=kind,
        contract=contract,
        installed_on=day,
        initial_value=initial,
        seal_number=seal,
        source="inspector",
        by=by,
        now=now,
    )
    return True


ROW_HANDLERS: dict[Kind, Callable[..., Any]] = {"readings": _reading_row, "meters": _meter_row}


async def apply(
    pool: asyncpg.Pool,
    outbox: Outbox,
    rules: operations.Rules,
    *,
    kind: Kind,
    body: bytes,
    fmt: str,
    received_by: str,
    max_rows: int,
    today: dt.date,
    now: dt.datetime,
) -> Outcome:
    """Apply a whole batch or nothing. Raises ``UnreadableBatch`` for a file that cannot be
    read at all; otherwise the outcome says what was applied or lists the errors."""
    outcome = Outcome()
    digest = hashlib.sha256(body).hexdigest()
    rows = read_rows(body, fmt, kind, max_rows, outcome)
    outcome.rows = len(rows)
    if outcome.error_count:
        return outcome
    if not rows:
        outcome.error(1, "(plik)", "partia nie zawiera żadnego wiersza")
        return outcome
    batch_id = uuid.uuid4()
    by = f"feed:{batch_id}"
    handler = ROW_HANDLERS[kind]
    try:
        async with pool.acquire() as conn, conn.transaction():
            # One batch of a kind at a time: rows of two batches never interleave.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1))", f"readings-feed:{kind}"
            )
            earlier = await repo.feed_batch(conn, kind, digest)
            if earlier is not None:
                outcome.batch_id = earlier["id"]
                outcome.repeated = True
                outcome.unchanged = outcome.rows
                return outcome
            for line, row in rows:
                try:
                    async with conn.transaction():  # savepoint: keep checking after an error
                        changed = await handler(conn, outbox, rules, row, by, today, now)
                except Refusal as exc:
                    outcome.error(line, exc.field or "(wiersz)", exc.reason)
                    continue
                if changed:
                    outcome.applied += 1
                else:
                    outcome.unchanged += 1
            if outcome.error_count:
                raise BatchRefused(outcome)
            outcome.batch_id = batch_id
            await repo.insert_feed_batch(
                conn, batch_id, kind, digest, outcome.rows, outcome.applied, received_by, now
            )
    except BatchRefused:
        outcome.applied = outcome.unchanged = 0
    return outcome
