"""Log lines captured as a service writes them (its JSON renderer), for tests that assert
what was logged."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from ebok_shared import logs


class Captured:
    """Logging configured as a service does it, writing to a buffer instead of stdout."""

    def __init__(self) -> None:
        self.stdout = io.StringIO()

    def configure(self, level: str = "DEBUG") -> None:
        real, sys.stdout = sys.stdout, self.stdout  # configure() writes to sys.stdout of now
        try:
            logs.configure("probe", level, cache=False)
        finally:
            sys.stdout = real

    def lines(self) -> list[dict[str, Any]]:
        out = self.stdout.getvalue()
        self.stdout.seek(0)
        self.stdout.truncate()
        return [json.loads(line) for line in out.splitlines()]


@pytest.fixture
def captured() -> Iterator[Captured]:
    capture = Captured()
    capture.configure()
    token = logs.correlation_id_var.set(None)
    try:
        yield capture
    finally:
        logs.correlation_id_var.reset(token)
        structlog.contextvars.clear_contextvars()
        logs.configure("tests", os.environ.get("EBOK_TEST_LOG_LEVEL", "WARNING"), cache=False)
