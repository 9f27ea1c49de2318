"""What the notifier's HTTP handlers share: JSON answers with its dates and ids (whole
numbers from the query come from ``ebok_shared.http.params.query_int``)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from functools import partial
from typing import Any

from aiohttp import web


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
