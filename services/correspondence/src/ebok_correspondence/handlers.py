"""Customer HTTP handlers (``/me/correspondence…``, ``/me/export``): parse the request, call
the domain and the repository, answer. A customer sees only the cases of their own account:
anything else is "not found", whoever it belongs to."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from aiohttp import web
from ebok_shared.clock import clock
from ebok_shared.http import idempotency
from ebok_shared.http.middleware import require
from ebok_shared.http.problems import Problem, problem_response
from ebok_shared.service import BUS, POOL, SETTINGS

from . import documents, files, operations, params, views
from . import repository as repo
from .documents import Document
from .domain import Kind, Status
from .middleware import streamed
from .settings import CorrespondenceSettings
from .upload import read_submission

routes = web.RouteTableDef()

STATUS_FILTERS = (*(s.value for s in Status), "open")
KINDS = tuple(k.value for k in Kind)
EXPORT_MAX_CASES = 10_000
NOT_FOUND = "Nie znaleziono takiej sprawy."


def settings_of(app: web.Application) -> CorrespondenceSettings:
    settings = app[SETTINGS]
    assert isinstance(settings, CorrespondenceSettings)
    return settings


def _customer(request: web.Request) -> str:
    return require(request, "customer").subject


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get(idempotency.HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= idempotency.MAX_KEY_LENGTH or not key.isprintable():
        raise Problem(
            400,
            f"Nagłówek {idempotency.HEADER} musi mieć od 1 do {idempotency.MAX_KEY_LENGTH} znaków.",
            code="bad-idempotency-key",
            errors=[{"field": idempotency.HEADER, "reason": "nieprawidłowy klucz"}],
        )
    return key


@routes.post("/me/correspondence")
@streamed
async def submit(request: web.Request) -> web.StreamResponse:
    """Send a document (JSON, or a form with the document and attachments)."""
    client_number = _customer(request)
    key = _idempotency_key(request)
    settings = settings_of(request.app)
    try:
        submission = await read_submission(request, settings)
    except Problem as problem:
        # Refused part-way through the body: answer now and drop the connection rather than
        # read (and throw away) up to 51 MB more.
        response = problem_response(problem, request.path)
        response.force_close()
        return response
    try:
        document = documents.parse(submission.document, clock.now())
        pool = request.app[POOL]
        try:
            done = await operations.replay(pool, client_number, key, submission.fingerprint)
        except operations.KeyReused:
            raise _key_reused() from None
        if done is None:
            await _check_ownership(pool, client_number, document)
            try:
                done = await operations.submit(
                    pool,
                    request.app[BUS].outbox,
                    settings,
                    client_number=client_number,
                    document=document,
                    uploads=submission.uploads,
                    idempotency_key=key,
                    request_hash=submission.fingerprint,
                )
            except operations.KeyReused:
                raise _key_reused() from None
    finally:
        submission.close()
    headers = {"Idempotent-Replayed": "true"} if done.replayed else {}
    return web.json_response(done.response, status=201, headers=headers)


def _key_reused() -> Problem:
    return Problem(
        422,
        f"Klucz {idempotency.HEADER} został już użyty z inną treścią żądania.",
        code="idempotency-key-reused",
        errors=[{"field": idempotency.HEADER, "reason": "klucz użyty z inną treścią"}],
    )


async def _check_ownership(pool: asyncpg.Pool, client_number: str, document: Document) -> None:
    """A reklamacja names an invoice or a meter of the client's own (one never learns whether
    someone else's exists: the answer is the same)."""
    if document.invoice_number is not None and not await repo.owns_invoice(
        pool, client_number, document.invoice_number
    ):
        raise Problem(
            422,
            "invoice_number: na Twoim koncie nie ma faktury o tym numerze.",
            code="not-your-invoice",
            errors=[
                {
                    "field": "invoice_number",
                    "reason": "na Twoim koncie nie ma faktury o tym numerze",
                }
            ],
        )
    if document.meter_serial is not None and not await repo.owns_meter(
        pool, client_number, document.meter_serial
    ):
        raise Problem(
            422,
            "meter_serial: na Twoim koncie nie ma wodomierza o tym numerze.",
            code="not-your-meter",
            errors=[
                {
                    "field": "meter_serial",
                    "reason": "na Twoim koncie nie ma wodomierza o tym numerze",
                }
            ],
        )


@routes.get("/me/correspondence")
async def history(request: web.Request) -> web.Response:
    """Every document the customer sent through e-BOK, newest first, with its replies."""
    client_number = _customer(request)
    page = params.page(request, settings_of(request.app).page_size_max)
    status = params.choice(request, "status", STATUS_FILTERS)
    kind = params.choice(request, "kind", KINDS)
    pool = request.app[POOL]
    rows, total = await repo.customer_cases(pool, client_number, status, kind, page)
    ids = [r["id"] for r in rows]
    attachments = await repo.attachments_of(pool, ids)
    replies = await repo.replies_of(pool, ids)
    items: list[object] = [
        views.customer_case(
            r, attachments.get(r["id"], []), replies.get(r["id"], []), with_details=False
        )
        for r in rows
    ]
    return web.json_response(page.envelope(items, total))


@routes.get("/me/correspondence/{case_id}")
async def case(request: web.Request) -> web.Response:
    client_number = _customer(request)
    case_id = params.path_id(request, "case_id")
    pool = request.app[POOL]
    row = await repo.customer_case(pool, client_number, case_id)
    if row is None:
        raise Problem(404, NOT_FOUND)
    attachments = await repo.attachments_of(pool, [case_id])
    replies = await repo.replies_of(pool, [case_id])
    return web.json_response(
        views.customer_case(
            row, attachments.get(case_id, []), replies.get(case_id, []), with_details=True
        )
    )


@routes.get("/me/correspondence/{case_id}/attachments/{attachment_id}")
async def customer_attachment(request: web.Request) -> web.StreamResponse:
    client_number = _customer(request)
    return await send_attachment(request, client_number)


async def send_attachment(request: web.Request, client_number: str | None) -> web.StreamResponse:
    """Stream an attachment from the database, one stored chunk at a time (a connection is
    held per chunk, not for the whole download)."""
    case_id = params.path_id(request, "case_id")
    attachment_id = params.path_id(request, "attachment_id")
    pool = request.app[POOL]
    row = await repo.attachment(pool, case_id, attachment_id, client_number)
    if row is None:
        raise Problem(404, "Nie znaleziono takiego załącznika.")
    etag = f'"{row["sha256"]}"'
    headers = {
        "Content-Type": row["content_type"],
        "Content-Disposition": files.content_disposition(row["filename"]),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
        "ETag": etag,
    }
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    response = web.StreamResponse(headers=headers)
    response.content_length = row["size"]
    await response.prepare(request)
    seq = 0
    while (data := await repo.chunk(pool, attachment_id, seq)) is not None:
        await response.write(data)
        seq += 1
    await response.write_eof()
    return response


@routes.get("/me/export")
async def export(request: web.Request) -> web.Response:
    """This service's part of the customer's data export (terms I.7, GDPR art. 15 and 20):
    every case of the account with its content, attachments (as links) and replies."""
    client_number = _customer(request)
    pool = request.app[POOL]
    rows = await repo.all_customer_cases(pool, client_number, EXPORT_MAX_CASES)
    ids = [r["id"] for r in rows]
    attachments = await repo.attachments_of(pool, ids)
    replies = await repo.replies_of(pool, ids)
    cases: list[dict[str, Any]] = [
        views.customer_case(
            r, attachments.get(r["id"], []), replies.get(r["id"], []), with_details=True
        )
        for r in rows
    ]
    body = {
        "service": "correspondence",
        "client_number": client_number,
        "exported_at": clock.now().isoformat(),
        "cases": cases,
    }
    return web.json_response(body, dumps=lambda v: json.dumps(v, ensure_ascii=False))
