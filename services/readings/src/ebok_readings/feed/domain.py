"""The back-office feed's batches: JSON lines (one object per line) or CSV (a header row
naming the columns), both read into the same flat records of strings, and each row's
values checked before it touches the registry. A row the rules refuse becomes a line error
(its line, field and reason). The format, the errors' shape, the all-or-nothing flow and the
batch's record are the shared feed's (``ebok_shared.feed``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from ebok_shared.feed import FORMATS as FORMATS  # named here too: the command line's choices
from ebok_shared.feed import (
    BatchTooLarge,
    LineErrors,
    csv_records,
    decode,
    jsonl_records,
)
from ebok_shared.refusals import invalid

from ..common.values import (
    CONTRACT_NUMBER_RE,
    METER_SERIAL_RE,
    SEAL_NUMBER_RE,
    parse_date,
    parse_m3,
)

Kind = Literal["readings", "meters"]
KINDS: tuple[Kind, ...] = ("readings", "meters")
SOURCES = ("inspector", "remote", "estimate")

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


def read_rows(
    body: bytes, fmt: str, kind: Kind, max_rows: int, errors: LineErrors
) -> list[tuple[int, dict[str, str]]]:
    """Numbered records of strings; malformed lines and unknown columns are line errors.
    Raises ``BatchTooLarge`` past ``max_rows``."""
    text = decode(body, errors)
    if text is None:
        return []
    columns = COLUMNS[kind]
    rows: list[tuple[int, dict[str, str]]] = []
    if fmt == "csv":
        for line, record in csv_records(text, errors, columns):
            if len(rows) >= max_rows:
                raise BatchTooLarge(max_rows)
            rows.append((line, {k: v.strip() for k, v in record.items() if v.strip()}))
        return rows
    for number, record in jsonl_records(text, errors):
        if len(rows) >= max_rows:
            raise BatchTooLarge(max_rows)
        values = {}
        for name, value in record.items():
            if name not in columns:
                errors.add(number, name, "nieznane pole")
            elif value is None or value == "":
                continue
            elif not isinstance(value, str):
                errors.add(number, name, 'wartość musi być tekstem (np. "123.456")')
            else:
                values[name] = value.strip()
        rows.append((number, values))
    return rows


# -- one row's values ----------------------------------------------------------------------------


def _need(row: dict[str, str], names: tuple[str, ...]) -> None:
    for name in names:
        if name not in row:
            raise invalid(name, "pole jest wymagane")


def _serial(row: dict[str, str], name: str) -> str:
    value = row[name]
    if not METER_SERIAL_RE.match(value):
        raise invalid(name, "nieprawidłowy numer wodomierza")
    return value


@dataclass(frozen=True, slots=True)
class ReadingRow:
    meter_serial: str
    read_on: dt.date
    value: Decimal
    source: str


def reading_row(row: dict[str, str]) -> ReadingRow:
    _need(row, READING_COLUMNS)
    serial = _serial(row, "meter_serial")
    read_on = parse_date(row["read_on"], "read_on")
    value = parse_m3(row["value"], "value")
    source = row["source"]
    if source not in SOURCES:
        raise invalid("source", "dozwolone wartości: " + ", ".join(SOURCES))
    return ReadingRow(serial, read_on, value, source)


@dataclass(frozen=True, slots=True)
class MeterRow:
    """An installation, removal or replacement (``serial`` is the new meter's)."""

    action: str
    serial: str
    date: dt.date
    seal_number: str | None
    kind: str | None = None
    contract_number: str | None = None
    initial_value: Decimal | None = None
    final_value: Decimal | None = None
    old_serial: str | None = None


def meter_row(row: dict[str, str], today: dt.date) -> MeterRow:
    _need(row, ("action",))
    action = row["action"]
    if action not in ACTIONS:
        raise invalid("action", "dozwolone wartości: " + ", ".join(ACTIONS))
    _need(row, ACTION_FIELDS[action])
    allowed = {"action", *ACTION_FIELDS[action], *ACTION_OPTIONAL[action]}
    for name in row:
        if name not in allowed:
            raise invalid(name, "pole nie dotyczy tej czynności")
    serial = _serial(row, "serial")
    day = parse_date(row["date"], "date")
    if day > today:
        raise invalid("date", "data nie może być z przyszłości")
    seal = row.get("seal_number")
    if seal is not None and not SEAL_NUMBER_RE.match(seal):
        raise invalid("seal_number", "nieprawidłowy numer plomby")
    if action == "install":
        kind = row["kind"]
        if kind not in ("main", "garden"):
            raise invalid("kind", "dozwolone wartości: main, garden")
        number = row["contract_number"]
        if not CONTRACT_NUMBER_RE.match(number):
            raise invalid("contract_number", "nieprawidłowy numer umowy")
        initial = parse_m3(row["initial_value"], "initial_value")
        return MeterRow(
            action, serial, day, seal, kind=kind, contract_number=number, initial_value=initial
        )
    if action == "remove":
        final = parse_m3(row["final_value"], "final_value")
        return MeterRow(action, serial, day, seal, final_value=final)
    old_serial = _serial(row, "old_serial")
    final = parse_m3(row["final_value"], "final_value")
    initial = parse_m3(row["initial_value"], "initial_value")
    return MeterRow(
        action,
        serial,
        day,
        seal,
        initial_value=initial,
        final_value=final,
        old_serial=old_serial,
    )
