"""The HTTP edge of a back-office feed (``ebok_shared.feed``): the batch read from the
request (its format, a size limit, streamed) and the one answer about it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..feed import BatchResult, detect_format
from .problems import Problem

UNSUPPORTED = (
    "Partia musi być w formacie CSV (text/csv) albo JSON lines (application/x-ndjson); "
    "można też podać ?format=csv|jsonl."
)


async def read_batch(request: web.Request, limit: int | None = None) -> tuple[str, bytes]:
    """The batch's format and bytes: 415 for a format the feed does not read; with a
    ``limit``, the body streamed and refused (413) once it passes it (a feed batch may be
    larger than the app-wide body cap that protects other routes)."""
    fmt = detect_format(request.content_type, request.query.get("format"))
    if fmt is None:
        raise Problem(
            415,
            UNSUPPORTED,
            code="unsupported-media-type",
            errors=[{"field": "Content-Type", "reason": "nieobsługiwany format"}],
        )
    if limit is None:
        return fmt, await request.read()
    too_large = Problem(
        413, f"Partia może mieć najwyżej {limit // (1024 * 1024)} MB.", code="batch-too-large"
    )
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return fmt, b"".join(chunks)


def answer(result: BatchResult) -> web.Response:
    """201 for a batch applied now, 200 for the same bytes again (the first answer); a
    rejected batch is a 422 problem naming every error kept (line, field, reason)."""
    if result.status == "rejected":
        first = result.errors[0] if result.errors else {"line": 0, "field": "-", "reason": "-"}
        raise Problem(
            422,
            f"Partia odrzucona w całości ({result.error_count} błędów); nic nie zostało "
            f"zapisane. Pierwszy błąd: wiersz {first['line']}, pole {first['field']}: "
            f"{first['reason']}.",
            code="feed-batch-rejected",
            errors=result.errors,
            batch_id=str(result.batch_id),
            error_count=result.error_count,
        )
    return web.json_response(result.to_dict(), status=200 if result.replayed else 201)


def batch_summary(row: Any) -> dict[str, Any]:
    """One line of a feed's batch history (``feed.repository.batch_page``): who sent it,
    when, what became of it; its errors are in the batch itself."""
    return {
        "batch_id": str(row["batch_id"]),
        "kind": row["kind"],
        "status": row["status"],
        "format": row["format"],
        "row_count": row["row_count"],
        "error_count": row["error_count"],
        "submitted_by": row["submitted_by"],
        "received_at": row["received_at"].isoformat(),
        "summary": row["summary"],
    }
