"""Back-office feed batches, the one mechanism every service's feed uses.

The back office sends a batch as JSON lines (one object per line) or CSV (a header row
naming the columns). Each service reads its own rows and keeps its own row rules; what is
the same for every feed lives here:

- the format, judged by the request's content type (or ``?format=``), by a file's name, or
  by its first bytes (``detect_format``, ``format_of_file``);
- a bad row is a ``LineError`` (line, field, reason in Polish), kept in ``LineErrors`` (the
  first ``MAX_ERRORS`` shown, all counted);
- a batch applies whole or not at all, and the very same bytes again are recognised by their
  checksum and answered with the first result (``feed.apply.apply_batch``);
- every batch received, applied or rejected, is one row of ``back_office_batches``
  (``feed.repository``), and its answer is one ``BatchResult`` shape (HTTP and CLI alike).

Pure: no I/O here.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import uuid
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from ..refusals import Refusal

FORMATS = ("jsonl", "csv")
MAX_ERRORS = 1000  # kept and reported; the count goes on beyond it
WHOLE_FILE = "(plik)"  # the field of an error about the file rather than one row
WHOLE_ROW = "(wiersz)"  # the field of an error about a row rather than one of its fields

CSV_TYPES = frozenset({"text/csv", "application/csv"})
JSONL_TYPES = frozenset(
    {
        "application/x-ndjson",
        "application/jsonl",
        "application/x-jsonlines",
        "application/json-lines",
        "application/json",
    }
)
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})


@dataclass(frozen=True, slots=True)
class LineError:
    """One refused row: its line in the file (1 is the first), the field and the reason."""

    line: int
    field: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "reason": self.reason}


@dataclass
class LineErrors:
    """A batch's errors: the first ``MAX_ERRORS`` kept, every one counted."""

    items: list[LineError] = field(default_factory=list)
    count: int = 0

    def add(self, line: int, field_name: str, reason: str) -> None:
        self.count += 1
        if len(self.items) < MAX_ERRORS:
            self.items.append(LineError(line, field_name, reason))

    def __bool__(self) -> bool:
        return self.count > 0

    def to_list(self) -> list[dict[str, Any]]:
        """In line order (checks that compare rows may find errors out of order)."""
        return [e.to_dict() for e in sorted(self.items, key=lambda e: e.line)]


class BatchTooLarge(Refusal):
    """More rows than a batch may have: refused before anything is checked (413)."""

    def __init__(self, max_rows: int) -> None:
        super().__init__(413, "batch-too-large", f"partia może mieć najwyżej {max_rows} wierszy")


def detect_format(content_type: str, explicit: str | None = None) -> str | None:
    """A request's format: ``?format=`` if given, else by its content type; ``None`` when
    neither names one the feed reads."""
    if explicit:
        return explicit if explicit in FORMATS else None
    ct = content_type.lower()
    if ct in CSV_TYPES:
        return "csv"
    if ct in JSONL_TYPES:
        return "jsonl"
    return None


def format_of_file(name: str | PurePath, body: bytes, explicit: str | None = None) -> str:
    """A file's format: as asked, else by its name (``.csv``, ``.jsonl``/``.ndjson``/
    ``.json``), else by its content (a first line opening a JSON object is JSON lines)."""
    if explicit:
        return explicit
    suffix = PurePath(name).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    first = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return "jsonl" if first == b"{" else "csv"


def checksum(body: bytes) -> str:
    """What makes a batch the same batch: the SHA-256 of its bytes."""
    return hashlib.sha256(body).hexdigest()


def decode(body: bytes, errors: LineErrors) -> str | None:
    """The batch's text (UTF-8, a byte-order mark allowed); ``None`` with a line error
    naming the first line that is not UTF-8."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        errors.add(line, WHOLE_ROW, "plik nie jest zapisany w kodowaniu UTF-8")
        return None


def jsonl_records(text: str, errors: LineErrors) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each non-blank line of a JSON-lines batch as (its line number, the object); a line
    that is not a JSON object is a line error. The service then reads its own columns."""
    for number, line in enumerate(text.split("\n"), start=1):  # not splitlines: U+2028 is data
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            errors.add(number, WHOLE_ROW, "wiersz nie jest poprawnym obiektem JSON")
            continue
        if not isinstance(record, dict):
            errors.add(number, WHOLE_ROW, "wiersz musi być obiektem JSON")
            continue
        yield number, record


def csv_records(
    text: str, errors: LineErrors, columns: Collection[str], required: Collection[str] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    """Each row of a CSV batch as (its line number, {column: value}), empty cells left out.
    The header row must name only ``columns``, each once, ``required`` among them: otherwise
    each fault is an error of line 1 and no row is read. A row of another width, or text
    that is not CSV, is a line error. An empty text yields nothing (the service says so)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        errors.add(1, WHOLE_ROW, f"niepoprawny CSV ({exc})")
        return
    faults = [(name or WHOLE_ROW, "nieznana kolumna") for name in header if name not in columns]
    faults += [(name, "brak kolumny") for name in required if name not in header]
    faults += [
        (name, "powtórzona kolumna") for name in sorted(set(header)) if header.count(name) > 1
    ]
    for name, reason in faults:
        errors.add(1, name, reason)
    if faults:
        return
    width = len(header)
    try:
        for cells in reader:
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            if len(cells) != width:
                errors.add(
                    reader.line_num, WHOLE_ROW, f"oczekiwano {width} kolumn, jest {len(cells)}"
                )
                continue
            yield reader.line_num, {k: v for k, v in zip(header, cells, strict=True) if v != ""}
    except csv.Error as exc:
        errors.add(reader.line_num, WHOLE_ROW, f"niepoprawny CSV ({exc})")


def no_rows(errors: LineErrors) -> None:
    errors.add(1, WHOLE_FILE, "partia nie zawiera żadnego wiersza")


@dataclass
class Counts:
    """What applying a batch did: rows that changed something, rows that restated what was
    already recorded, and the service's own detail (e.g. per record type)."""

    applied: int = 0
    unchanged: int = 0
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class BatchResult:
    """The one answer about a batch, by HTTP and by the command line: ``status`` is
    ``applied`` or ``rejected``; ``replayed`` says the very same bytes were applied before
    (the answer is then that first one's)."""

    batch_id: uuid.UUID
    kind: str
    status: str
    replayed: bool
    format: str | None
    row_count: int
    applied: int
    unchanged: int
    summary: dict[str, Any]
    error_count: int
    errors: list[dict[str, Any]]
    submitted_by: str
    received_at: dt.datetime | None = None

    @classmethod
    def from_record(cls, r: Mapping[str, Any], *, replayed: bool) -> BatchResult:
        return cls(
            batch_id=r["batch_id"],
            kind=r["kind"],
            status=r["status"],
            replayed=replayed,
            format=r["format"],
            row_count=r["row_count"],
            applied=r["applied"],
            unchanged=r["unchanged"],
            summary=r["summary"],
            error_count=r["error_count"],
            errors=r["errors"],
            submitted_by=r["submitted_by"],
            received_at=r["received_at"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch_id": str(self.batch_id),
            "kind": self.kind,
            "status": self.status,
            "replayed": self.replayed,
            "format": self.format,
            "row_count": self.row_count,
            "applied": self.applied,
            "unchanged": self.unchanged,
            "summary": self.summary,
            "error_count": self.error_count,
            "errors": self.errors,
            "submitted_by": self.submitted_by,
            "received_at": self.received_at.isoformat() if self.received_at else None,
        }


def refused_file(reason: str) -> dict[str, Any]:
    """The command line's answer for a file refused before any row was read (too large)."""
    return {
        "status": "rejected",
        "error_count": 1,
        "errors": [LineError(0, WHOLE_FILE, reason).to_dict()],
    }
