"""What a refusal must look like, checked once for every test: a problem document
(``application/problem+json``) with the answer's status and a detail for the reader."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import ClientResponse


async def problem(response: ClientResponse, status: int) -> dict[str, Any]:
    """The problem document of a refused request (checked to be one)."""
    text = await response.text()
    assert response.status == status, text
    assert response.content_type == "application/problem+json", response.content_type
    body: dict[str, Any] = json.loads(text)
    assert body["status"] == status and body["detail"]
    return body


def fields_of(body: dict[str, Any]) -> dict[str, str]:
    """A validation problem's errors: field → reason."""
    return {e["field"]: e["reason"] for e in body.get("errors", [])}
