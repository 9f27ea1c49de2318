"""Operator HTTP handlers (``/operator/…``, kind "operator"; the gateway serves them under
``/api/v1/operator/correspondence/…``): the queue, one case with its history, taking a
case, replying, status, evidence needed (the deadline moves), closing. Each calls one use
case; a refusal of the case's rules is rendered by the shared error renderer."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from ebok_shared.api.correspondence import NOTE_SCHEMA, REPLY_SCHEMA, STATUS_SCHEMA
from ebok_shared.http import uploads
from ebok_shared.http.jsonbody import json_answer
from ebok_shared.http.middleware import require
from ebok_shared.http.problems import Problem, problem_response, validation_problem
from ebok_shared.http.roles import CUSTOMER_SERVICE, operator_role
from ebok_shared.http.validation import read_json, validate
from ebok_shared.service import BUS, POOL

from . import use_cases
from .domain import Status
from .http_common import (
    KINDS,
    STATUS_FILTERS,
    body_and_idempotency,
    page,
    path_id,
    query_choice,
    send_attachment,
    settings_of,
    streamed,
)
from .upload import Upload, read_submission

routes = web.RouteTableDef()


def _operator(request: web.Request) -> str:
    return require(request, "operator").subject


async def _note(request: web.Request) -> str | None:
    if not request.body_exists:
        return None
    body = await read_json(request, NOTE_SCHEMA)
    note = body.get("note", "").strip()
    return note or None


@routes.get("/operator/cases")
@operator_role(CUSTOMER_SERVICE)
async def queue(request: web.Request) -> web.Response:
    """Open cases by default; urgent failure reports first, then the nearest deadline."""
    _operator(request)
    paging = page(request, settings_of(request.app).page_size_max)
    status = query_choice(request, "status", (*STATUS_FILTERS, "all")) or "open"
    kind = query_choice(request, "kind", KINDS)
    mine = query_choice(request, "assignee", ("me",))
    operator_id = _operator(request) if mine else None
    answer = await use_cases.operator_queue(
        request.app[POOL], None if status == "all" else status, kind, operator_id, paging
    )
    return json_answer(answer)


@routes.get("/operator/queue-counts")
@operator_role(CUSTOMER_SERVICE)
async def queue_counts(request: web.Request) -> web.Response:
    """``{"open", "urgent", "unassigned", "evidence_needed", "overdue"}``: open cases."""
    _operator(request)
    return json_answer(await use_cases.queue_counts(request.app[POOL]))


@routes.get("/operator/cases/{case_id}")
@operator_role(CUSTOMER_SERVICE)
async def case(request: web.Request) -> web.Response:
    _operator(request)
    case_id = path_id(request, "case_id")
    return json_answer(await use_cases.operator_case(request.app[POOL], case_id))


@routes.get("/operator/cases/{case_id}/attachments/{attachment_id}")
@operator_role(CUSTOMER_SERVICE)
async def attachment(request: web.Request) -> web.StreamResponse:
    _operator(request)
    download = await use_cases.attachment(
        request.app[POOL], path_id(request, "case_id"), path_id(request, "attachment_id"), None
    )
    return await send_attachment(request, download)


@routes.post("/operator/cases/{case_id}/assignment")
@operator_role(CUSTOMER_SERVICE)
async def assign(request: web.Request) -> web.Response:
    """The operator takes the case (to themself)."""
    operator_id = _operator(request)
    case_id = path_id(request, "case_id")
    answer = await use_cases.assign(
        request.app[POOL], request.app[BUS].outbox, case_id, operator_id
    )
    return json_answer(answer)


@routes.post("/operator/cases/{case_id}/replies")
@operator_role(CUSTOMER_SERVICE)
@streamed
async def reply(request: web.Request) -> web.StreamResponse:
    """The answer: the customer reads it in e-BOK and is e-mailed only that it is waiting.
    JSON, or the customer's form (a ``document`` part with the reply, ``attachments`` parts
    with its files: the same reader, limits and checks as sending a letter)."""
    if uploads.media_type(request) != "multipart/form-data":  # JSON: the JSON cap and idempotency
        return await body_and_idempotency(request, _reply_of_json)
    try:
        submission = await read_submission(request, settings_of(request.app))
    except Problem as problem:
        response = problem_response(problem, request.path)
        response.force_close()  # refused part-way through the body: do not read the rest
        return response
    try:
        validate(submission.document, REPLY_SCHEMA)
        return await _replied(request, submission.document, submission.uploads)
    finally:
        submission.close()


async def _reply_of_json(request: web.Request) -> web.StreamResponse:
    return await _replied(request, await read_json(request, REPLY_SCHEMA), [])


async def _replied(
    request: web.Request, document: dict[str, Any], uploads: list[Upload]
) -> web.Response:
    operator_id = _operator(request)
    case_id = path_id(request, "case_id")
    text = document["body"].strip()
    if not text:
        raise validation_problem([{"field": "body", "reason": "pole nie może być puste"}])
    answer = await use_cases.reply(
        request.app[POOL], request.app[BUS].outbox, case_id, operator_id, text, uploads
    )
    return json_answer(answer, status=201)


@routes.put("/operator/cases/{case_id}/status")
@operator_role(CUSTOMER_SERVICE)
async def status(request: web.Request) -> web.Response:
    operator_id = _operator(request)
    case_id = path_id(request, "case_id")
    body = await read_json(request, STATUS_SCHEMA)
    answer = await use_cases.change_status(
        request.app[POOL], case_id, operator_id, Status(body["status"])
    )
    return json_answer(answer)


@routes.post("/operator/cases/{case_id}/evidence-needed")
@operator_role(CUSTOMER_SERVICE)
async def evidence_needed(request: web.Request) -> web.Response:
    """Evidence is needed: the reply deadline is extended by the configured period, once."""
    operator_id = _operator(request)
    case_id = path_id(request, "case_id")
    note = await _note(request)
    answer = await use_cases.evidence_needed(
        request.app[POOL],
        request.app[BUS].outbox,
        case_id,
        operator_id,
        note,
        settings_of(request.app).evidence_extension_days,
    )
    return json_answer(answer)


@routes.post("/operator/cases/{case_id}/closure")
@operator_role(CUSTOMER_SERVICE)
async def close(request: web.Request) -> web.Response:
    operator_id = _operator(request)
    case_id = path_id(request, "case_id")
    note = await _note(request)
    answer = await use_cases.close(
        request.app[POOL], request.app[BUS].outbox, case_id, operator_id, note
    )
    return json_answer(answer)
