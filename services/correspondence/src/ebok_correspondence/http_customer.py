"""Customer HTTP handlers (``/me/correspondence…``, ``/me/export``): parse the request, call
one use case, answer. A customer sees only the cases of their own account: anything else is
"not found", whoever it belongs to."""

from __future__ import annotations

from aiohttp import web
from ebok_shared.clock import clock
from ebok_shared.http import idempotency
from ebok_shared.http.jsonbody import json_answer
from ebok_shared.http.middleware import allow_restricted, require
from ebok_shared.http.problems import Problem, problem_response
from ebok_shared.service import BUS, POOL

from . import documents, use_cases
from .http_common import (
    KINDS,
    STATUS_FILTERS,
    page,
    path_id,
    query_choice,
    send_attachment,
    settings_of,
    streamed,
)
from .upload import read_added_files, read_submission

routes = web.RouteTableDef()


def _customer(request: web.Request) -> str:
    return require(request, "customer").subject


@routes.post("/me/correspondence")
@streamed
async def submit(request: web.Request) -> web.StreamResponse:
    """Send a document (JSON, or a form with the document and attachments)."""
    client_number = _customer(request)
    key = idempotency.key_of(request)
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
        done = await use_cases.submit(
            request.app[POOL],
            request.app[BUS].outbox,
            settings,
            client_number=client_number,
            document=documents.parse(submission.document, clock.now()),
            uploads=submission.uploads,
            idempotency_key=key,
            request_hash=submission.fingerprint,
        )
    finally:
        submission.close()
    headers = {"Idempotent-Replayed": "true"} if done.replayed else {}
    return json_answer(done.response, status=201, headers=headers)


@routes.post("/me/correspondence/{case_id}/attachments")
@streamed
async def add_attachments(request: web.Request) -> web.StreamResponse:
    """Add files to an open case (a form of ``attachments`` parts, the limits of sending)."""
    client_number = _customer(request)
    case_id = path_id(request, "case_id")
    try:
        submission = await read_added_files(request, settings_of(request.app))
    except Problem as problem:
        response = problem_response(problem, request.path)
        response.force_close()  # refused part-way through the body: do not read the rest
        return response
    try:
        answer = await use_cases.add_attachments(
            request.app[POOL],
            request.app[BUS].outbox,
            client_number=client_number,
            case_id=case_id,
            uploads=submission.uploads,
        )
    finally:
        submission.close()
    return json_answer(answer, status=201)


@routes.get("/me/correspondence")
async def history(request: web.Request) -> web.Response:
    """Every document the customer sent through e-BOK, newest first, with its replies."""
    client_number = _customer(request)
    paging = page(request, settings_of(request.app).page_size_max)
    status = query_choice(request, "status", STATUS_FILTERS)
    kind = query_choice(request, "kind", KINDS)
    answer = await use_cases.customer_history(
        request.app[POOL], client_number, status, kind, paging
    )
    return json_answer(answer)


@routes.get("/me/correspondence/{case_id}")
async def case(request: web.Request) -> web.Response:
    client_number = _customer(request)
    case_id = path_id(request, "case_id")
    return json_answer(await use_cases.customer_case(request.app[POOL], client_number, case_id))


@routes.get("/me/correspondence/{case_id}/attachments/{attachment_id}")
async def customer_attachment(request: web.Request) -> web.StreamResponse:
    client_number = _customer(request)
    download = await use_cases.attachment(
        request.app[POOL],
        path_id(request, "case_id"),
        path_id(request, "attachment_id"),
        client_number,
    )
    return await send_attachment(request, download)


@routes.get("/me/export")
@allow_restricted("regulations")  # a GDPR right, whatever terms are accepted
async def export(request: web.Request) -> web.Response:
    """This service's part of the customer's data export (terms I.7, GDPR art. 15 and 20)."""
    client_number = _customer(request)
    body = await use_cases.customer_export(request.app[POOL], client_number)
    return json_answer(body)
