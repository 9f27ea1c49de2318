"""Sending a form to the gateway exactly once, and reading what a section's refusal means.

Every form that creates something carries an ``Idempotency-Key`` made when the form was
rendered (a hidden field): a double click, or the browser sending the form again, reaches the
service with the same key and gets the first answer instead of a second reading, request or
letter. The services remember the answer by a hash of the body, so the same form must give
the same bytes: a multipart body built here gets a boundary derived from the key (a random
boundary would make the second copy "another request with a reused key").
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from .access import Api
from .gateway import Reply

KEY_FIELD = "idempotency_key"
# The first copy is still being handled: the service says so; the answer comes in a moment.
IN_PROGRESS = ("idempotency-in-progress", "idempotency-retry")
IN_PROGRESS_WAITS = (0.3, 0.6, 1.0, 1.5, 2.0)
UNAVAILABLE = (502, 503, 504)


def new_key() -> str:
    return secrets.token_urlsafe(18)


def key_of(values: Mapping[str, str]) -> str:
    """The form's key; a form without a usable one gets a fresh key (sent once anyway)."""
    key = values.get(KEY_FIELD, "")
    return key if 8 <= len(key) <= 100 and key.isascii() and key.isprintable() else new_key()


@dataclass(frozen=True)
class Upload:
    """A file the customer attached, read whole (the limits are the service's)."""

    field: str
    filename: str
    content_type: str
    data: bytes


def uploads(data: Any, name: str) -> list[Upload]:
    """The files sent in the form's ``name`` input (a browser sends an empty part when no
    file was chosen: that is no file)."""
    found = []
    for item in data.getall(name, []):
        if isinstance(item, web.FileField) and item.filename:
            found.append(Upload(name, item.filename, item.content_type, item.file.read()))
    return found


def multipart(fields: Iterable[tuple[str, str, str]], files: Iterable[Upload], key: str) -> Any:
    """A multipart/form-data body, the same bytes for the same form and key.

    ``fields``: (name, value, content type) in order; ``files`` after them."""
    boundary = "ebok-" + hashlib.sha256(key.encode()).hexdigest()[:40]
    writer = aiohttp.MultipartWriter("form-data", boundary=boundary)
    for name, value, content_type in fields:
        part = writer.append(value, {"Content-Type": content_type})
        part.set_content_disposition("form-data", quote_fields=False, name=name)
    for upload in files:
        part = writer.append(upload.data, {"Content-Type": upload.content_type})
        # As a browser sends them: the name as it is (UTF-8), not percent-encoded.
        part.set_content_disposition(
            "form-data", quote_fields=False, name=upload.field, filename=upload.filename
        )
    return writer


def json_part(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, sort_keys=True)


async def post_once(api: Api, path: str, key: str, **body: Any) -> Reply:
    """POST with the form's key; while the first copy of the same form is still being
    handled, wait for its answer (the service replays it) rather than report a conflict."""
    headers = {"Idempotency-Key": key}
    reply = await api.post(path, headers=headers, **body)
    for wait in IN_PROGRESS_WAITS:
        if reply.status != 409 or reply.code not in IN_PROGRESS:
            break
        await asyncio.sleep(wait)
        reply = await api.post(path, headers=headers, **body)
    return reply


def section_notice(reply: Reply) -> str | None:
    """What to show instead of a section's data: the operator's message for a suspended
    section, the "temporarily unavailable" notice for a service that is down; None when the
    reply is not about that. A hidden section is a page that does not exist."""
    if reply.status == 404 and reply.code == "section-hidden":
        raise web.HTTPNotFound()
    if reply.status == 503 and reply.code == "section-suspended":
        return str(reply.problem.get("detail") or "Ta część e-BOK jest chwilowo niedostępna.")
    if reply.status in UNAVAILABLE:
        return "Dane są chwilowo niedostępne. Spróbuj ponownie za kilka minut."
    return None


def valid_uuid(raw: str) -> str:
    """A path's id as the services know it; anything else is a page that does not exist."""
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise web.HTTPNotFound() from None
