"""The history of a fault run, in the Jepsen way: every operation has a unique id, and each
attempt at it is written as JSON lines, ``invoked`` and then ``ok``, ``failed`` (a definite
refusal: the operation did not happen) or ``unknown`` (a timeout, a cut connection, a 5xx: it
may or may not have happened). The nemesis's steps go to the same file, so one can read what
failed while what was broken."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

OK, FAILED, UNKNOWN = "ok", "failed", "unknown"


def classify(status: int | None) -> str:
    """An HTTP answer's meaning for the history: None is a cut connection or a timeout."""
    if status is None:
        return UNKNOWN
    if 200 <= status < 300:
        return OK
    # 408 (timed out), 409 (the same Idempotency-Key still running), 429 (slow down) and
    # every 5xx (a gateway or service that could not tell) leave the outcome open.
    if status in (408, 409, 429) or status >= 500:
        return UNKNOWN
    return FAILED


@dataclass
class Operation:
    id: str
    kind: str  # register | reading | case
    subject: str  # the customer (client number)
    outcome: str | None = None  # the final one: ok, failed or unknown
    attempts: int = 0
    result: dict[str, Any] = field(default_factory=dict)  # e.g. the case number


class History:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: TextIO = path.open("w", encoding="utf-8")
        self._started = time.monotonic()
        self.operations: dict[str, Operation] = {}

    def _write(self, record: dict[str, Any]) -> None:
        record = {"t": round(time.monotonic() - self._started, 3), **record}
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()

    def invoke(self, op: Operation) -> None:
        self.operations.setdefault(op.id, op)
        op.attempts += 1
        self._write({"type": "invoked", "op": op.id, "kind": op.kind, "subject": op.subject})

    def complete(self, op: Operation, outcome: str, detail: str = "") -> None:
        # Once ok, always ok; a definite refusal after an unknown attempt stays unknown (the
        # earlier attempt may have done it).
        if op.outcome != OK and not (op.outcome == UNKNOWN and outcome == FAILED):
            op.outcome = outcome
        self._write({"type": outcome, "op": op.id, "kind": op.kind, "detail": detail[:300]})

    def nemesis(self, what: str, phase: str) -> None:
        self._write({"type": "nemesis", "fault": what, "phase": phase})

    def of_kind(self, kind: str) -> Iterator[Operation]:
        return (op for op in self.operations.values() if op.kind == kind)

    def close(self) -> None:
        self._file.close()
