"""The service's request middleware, in place of the library's idempotency middleware.

Every JSON route keeps the library's ``Idempotency-Key`` handling, behind a small body limit
(operator actions carry a few kilobytes, not the 51 MB a document with attachments may).
Sending a document streams up to 51 MB of form: it is marked ``@streamed`` and keeps its key
itself, in the cases table, with a fingerprint of what the form means (the library's would
read the whole body into memory first, and hash the multipart boundary, which a browser
changes when the customer presses "send" again).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from ebok_shared.http import idempotency
from ebok_shared.http.middleware import PRINCIPAL
from ebok_shared.http.problems import Problem
from ebok_shared.service import POOL, SETTINGS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def streamed(handler: Any) -> Any:
    """Mark a handler that reads its body as a stream and keeps its Idempotency-Key itself."""
    handler.ebok_streamed = True
    return handler


@web.middleware
async def body_and_idempotency(request: web.Request, handler: Handler) -> web.StreamResponse:
    if getattr(handler, "ebok_streamed", False):
        return await handler(request)
    if request.body_exists:
        limit = getattr(request.app[SETTINGS], "json_body_max_bytes", 64 * 1024)
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
