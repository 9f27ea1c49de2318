"""Operator HTTP handlers (``/operator/…``, kind "operator"; the gateway serves them under
``/api/v1/operator/correspondence/…``): the queue, one case with its history, taking a
case, replying, status, evidence needed (the deadline moves), closing."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from ebok_shared.http.middleware import require
from ebok_shared.http.problems import Problem
from ebok_shared.http.validation import read_json
from ebok_shared.service import BUS, POOL

from . import operations, params, views
from . import repository as repo
from .domain import SETTABLE_STATUSES, RuleBroken, Status
from .handlers import KINDS, STATUS_FILTERS, send_attachment, settings_of

routes = web.RouteTableDef()

REPLY_SCHEMA = {
    "type": "object",
    "required": ["body"],
    "additionalProperties": False,
    "properties": {"body": {"type": "string", "minLength": 1, "maxLength": 20000}},
}
STATUS_SCHEMA = {
    "type": "object",
    "required": ["status"],
    "additionalProperties": False,
    "properties": {"status": {"enum": [s.value for s in SETTABLE_STATUSES]}},
}
NOTE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"note": {"type": "string", "minLength": 1, "maxLength": 2000}},
}
NOT_FOUND = "Nie znaleziono takiej sprawy."


def _operator(request: web.Request) -> str:
    return require(request, "operator").subject


async def _note(request: web.Request) -> str | None:
    if not request.body_exists:
        return None
    body = await read_json(request, NOTE_SCHEMA)
    note = body.get("note", "").strip()
    return note or None


def _refused(exc: RuleBroken) -> Problem:
    return Problem(409, exc.detail, code=exc.code)


@routes.get("/operator/cases")
async def queue(request: web.Request) -> web.Response:
    """Open cases by default; urgent failure reports first, then the nearest deadline."""
    _operator(request)
    page = params.page(request, settings_of(request.app).page_size_max)
    status = params.choice(request, "status", (*STATUS_FILTERS, "all")) or "open"
    kind = params.choice(request, "kind", KINDS)
    mine = params.choice(request, "assignee", ("me",))
    operator_id = _operator(request) if mine else None
    pool = request.app[POOL]
    rows, total = await repo.operator_queue(
        pool, None if status == "all" else status, kind, operator_id, page
    )
    attachments = await repo.attachments_of(pool, [r["id"] for r in rows])
    items: list[object] = [views.operator_case(r, attachments.get(r["id"], [])) for r in rows]
    return web.json_response(page.envelope(items, total))


@routes.get("/operator/cases/{case_id}")
async def case(request: web.Request) -> web.Response:
    _operator(request)
    case_id = params.path_id(request, "case_id")
    pool = request.app[POOL]
    row = await repo.case_by_id(pool, case_id)
    if row is None:
        raise Problem(404, NOT_FOUND)
    attachments = await repo.attachments_of(pool, [case_id])
    replies = await repo.replies_of(pool, [case_id])
    history = await repo.history_of(pool, case_id)
    return web.json_response(
        views.operator_case(row, attachments.get(case_id, []), replies.get(case_id, []), history)
    )


@routes.get("/operator/cases/{case_id}/attachments/{attachment_id}")
async def attachment(request: web.Request) -> web.StreamResponse:
    _operator(request)
    return await send_attachment(request, None)


async def _current(request: web.Request) -> dict[str, Any]:
    """The case as it is after the change (for the operator's screen)."""
    case_id = params.path_id(request, "case_id")
    row = await repo.case_by_id(request.app[POOL], case_id)
    assert row is not None
    attachments = await repo.attachments_of(request.app[POOL], [case_id])
    return views.operator_case(row, attachments.get(case_id, []))


@routes.post("/operator/cases/{case_id}/assignment")
async def assign(request: web.Request) -> web.Response:
    """The operator takes the case (to themself)."""
    operator_id = _operator(request)
    case_id = params.path_id(request, "case_id")
    try:
        await operations.assign(request.app[POOL], request.app[BUS].outbox, case_id, operator_id)
    except operations.CaseNotFound:
        raise Problem(404, NOT_FOUND) from None
    except RuleBroken as exc:
        raise _refused(exc) from None
    return web.json_response(await _current(request))


@routes.post("/operator/cases/{case_id}/replies")
async def reply(request: web.Request) -> web.Response:
    """The answer: the customer reads it in e-BOK and is e-mailed only that it is waiting."""
    operator_id = _operator(request)
    case_id = params.path_id(request, "case_id")
    body = await read_json(request, REPLY_SCHEMA)
    text = body["body"].strip()
    if not text:
        raise Problem(
            422,
            "body: pole nie może być puste",
            code="validation",
            errors=[{"field": "body", "reason": "pole nie może być puste"}],
        )
    try:
        reply_id = await operations.reply(
            request.app[POOL], request.app[BUS].outbox, case_id, operator_id, text
        )
    except operations.CaseNotFound:
        raise Problem(404, NOT_FOUND) from None
    except RuleBroken as exc:
        raise _refused(exc) from None
    return web.json_response(
        {"reply_id": str(reply_id), "case": await _current(request)}, status=201
    )


@routes.put("/operator/cases/{case_id}/status")
async def status(request: web.Request) -> web.Response:
    operator_id = _operator(request)
    case_id = params.path_id(request, "case_id")
    body = await read_json(request, STATUS_SCHEMA)
    try:
        await operations.change_status(
            request.app[POOL], case_id, operator_id, Status(body["status"])
        )
    except operations.CaseNotFound:
        raise Problem(404, NOT_FOUND) from None
    except RuleBroken as exc:
        raise _refused(exc) from None
    return web.json_response(await _current(request))


@routes.post("/operator/cases/{case_id}/evidence-needed")
async def evidence_needed(request: web.Request) -> web.Response:
    """Evidence is needed: the reply deadline is extended by the configured period, once."""
    operator_id = _operator(request)
    case_id = params.path_id(request, "case_id")
    note = await _note(request)
    try:
        await operations.evidence_needed(
            request.app[POOL],
            case_id,
            operator_id,
            note,
            settings_of(request.app).evidence_extension_days,
        )
    except operations.CaseNotFound:
        raise Problem(404, NOT_FOUND) from None
    except RuleBroken as exc:
        raise _refused(exc) from None
    return web.json_response(await _current(request))


@routes.post("/operator/cases/{case_id}/closure")
async def close(request: web.Request) -> web.Response:
    operator_id = _operator(request)
    case_id = params.path_id(request, "case_id")
    note = await _note(request)
    try:
        await operations.close(
            request.app[POOL], request.app[BUS].outbox, case_id, operator_id, note
        )
    except operations.CaseNotFound:
        raise Problem(404, NOT_FOUND) from None
    except RuleBroken as exc:
        raise _refused(exc) from None
    return web.json_response(await _current(request))
