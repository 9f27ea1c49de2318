"""What both audiences' HTTP handlers share: the service's request middleware (in place of
the library's idempotency middleware), path and query parameters, and streaming an
attachment out.

Every JSON route keeps the library's ``Idempotency-Key`` handling, behind a small body limit
(operator actions carry a few kilobytes, not the 51 MB a document with attachments may).
Sending a document streams up to 51 MB of form: it is marked ``@streamed`` and keeps its key
itself, with the case (see ``use_cases.submit``: the library's would read the whole body into
memory first, and hash the multipart boundary, which a browser changes when the customer
presses "send" again).
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from ebok_shared.http import idempotency
from ebok_shared.http.middleware import PRINCIPAL
from ebok_shared.http.params import page, query_choice
from ebok_shared.http.problems import Problem
from ebok_shared.service import POOL

from . import files
from .domain import Kind, Status
from .settings import CorrespondenceSettings
from .use_cases import Download

__all__ = ["page", "query_choice"]

STATUS_FILTERS = (*(s.value for s in Status), "open")
KINDS = tuple(k.value for k in Kind)


def settings_of(app: web.Application) -> CorrespondenceSettings:
    return CorrespondenceSettings.of(app)


def path_id(request: web.Request, name: str) -> uuid.UUID:
    """A case or attachment id from the path. Anything that is not one is simply not found
    (404), the same answer as an id of someone else's case."""
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise Problem(404, "Nie znaleziono takiej sprawy lub załącznika.") from None


async def send_attachment(request: web.Request, download: Download) -> web.StreamResponse:
    """Stream an attachment as the database hands it out, one stored chunk at a time."""
    etag = f'"{download.sha256}"'
    headers = {
        "Content-Type": download.content_type,
        "Content-Disposition": files.content_disposition(download.filename),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
        "ETag": etag,
    }
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    response = web.StreamResponse(headers=headers)
    response.content_length = download.size
    await response.prepare(request)
    async for data in download.chunks:
        await response.write(data)
    await response.write_eof()
    return response


def streamed(handler: Any) -> Any:
    """Mark a handler that reads its body as a stream and keeps its Idempotency-Key itself."""
    handler.ebok_streamed = True
    return handler


@web.middleware
async def body_and_idempotency(request: web.Request, handler: Handler) -> web.StreamResponse:
    if getattr(handler, "ebok_streamed", False):
        return await handler(request)
    if request.body_exists:
        limit = settings_of(request.app).json_body_max_bytes
        if request.content_length is None:
            raise Problem(
                411,
                "Żądanie musi podawać długość treści (nagłówek Content-Length).",
                code="length-required",
                title="Wymagana długość treści",
                errors=[{"field": "Content-Length", "reason": "nagłówek jest wymagany"}],
            )
        if request.content_length > limit:
            raise Problem(
                413,
                f"Treść żądania może mieć najwyżej {limit // 1024} KB.",
                code="body-too-large",
                errors=[{"field": "(body)", "reason": f"treść przekracza {limit // 1024} KB"}],
            )
    principal = request.get(PRINCIPAL)
    subject = f"{principal.kind}:{principal.subject}" if principal else "anonymous"
    return await idempotency.handle(request, handler, request.app[POOL], subject)
