"""What the notifier's HTTP handlers share: JSON answers with its dates and ids, and whole
numbers from the query."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from functools import partial
from typing import Any

from aiohttp import web
from ebok_shared.http.problems import field_problem


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_answer(data: Any, status: int = 200) -> web.Response:
    return web.json_response(
        data, status=status, dumps=partial(json.dumps, default=_plain, ensure_ascii=False)
    )


def int_param(
    request: web.Request, name: str, default: int | None, low: int, high: int
) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise field_problem(name, "oczekiwano liczby całkowitej") from None
    if not low <= value <= high:
        raise field_problem(name, f"dozwolony zakres: {low}–{high}")
    return value
