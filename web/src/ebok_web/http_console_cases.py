"""The console's cases (customer service): the queue as the work is done (urgent failure
reports first, then the nearest reply deadline with the days left), and one case with what
can be done to it — take it, reply, ask for evidence (the deadline moves), set the status,
close it. The customer reads the reply in the portal and is e-mailed that it is there."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from .access import api
from .console import checked, console_page, done, page_number, passthrough
from .forms import Form, read_form
from .http_correspondence import STATUS_TAGS, deadline_text, details_of
from .operator_roles import CUSTOMER_SERVICE
from .rendering import render
from .submissions import json_part, multipart, uploads, valid_uuid

routes = web.RouteTableDef()

QUEUE = "/operator/sprawy"
API = "/operator/correspondence/cases"
PAGE_SIZE = 25
STATUS_FILTERS = (
    ("open", "Otwarte"),
    ("received", "Przyjęte"),
    ("in_progress", "W trakcie rozpatrywania"),
    ("answered", "Udzielono odpowiedzi"),
    ("closed", "Zamknięte"),
    ("all", "Wszystkie"),
)
KIND_FILTERS = (
    ("", "Wszystkie rodzaje"),
    ("failure_report", "Zgłoszenie awarii"),
    ("water_quality_complaint", "Skarga na jakość wody"),
    ("reklamacja", "Reklamacja"),
    ("data_change", "Zmiana danych strony umowy"),
    ("letter", "Pismo"),
)
SETTABLE = (
    ("received", "Przyjęte"),
    ("in_progress", "W trakcie rozpatrywania"),
    ("answered", "Udzielono odpowiedzi"),
)

STATUS_NAMES = dict(STATUS_FILTERS)
# Each kind of entry in a case's history (correspondence's ``case_history.action``).
HISTORY_ACTIONS = {
    "submitted": "Sprawa złożona przez klienta",
    "attachments_added": "Klient dołączył załączniki",
    "assigned": "Sprawa przydzielona",
    "answered": "Wysłano odpowiedź",
    "status_changed": "Zmiana statusu",
    "evidence_needed": "Prośba o uzupełnienie dowodów",
    "closed": "Sprawa zamknięta",
    "unlinked": "Odłączona od usuniętego konta e-BOK",
}
ACTOR_KINDS = {"customer": "klient", "operator": "pracownik", "system": "system"}


def history_entry(entry: dict[str, Any]) -> str:
    """What happened, in Polish: the entry's kind, and for a status change or a note, what."""
    action = str(entry.get("action", ""))
    said = HISTORY_ACTIONS.get(action, action)
    raw = entry.get("details")
    details: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if action == "status_changed" and details.get("to"):
        before = STATUS_NAMES.get(str(details.get("from")), str(details.get("from") or "—"))
        said += f": {before} → {STATUS_NAMES.get(str(details['to']), str(details['to']))}"
    if action == "submitted" and details.get("attachments"):
        said += f" (załączniki: {details['attachments']})"
    if details.get("note"):
        said += f": {details['note']}"
    return said


def _choice(raw: str | None, options: tuple[tuple[str, str], ...], default: str) -> str:
    return raw if raw in {value for value, _ in options} else default


@routes.get(QUEUE)
@console_page(CUSTOMER_SERVICE)
async def queue(request: web.Request) -> web.StreamResponse:
    status = _choice(request.query.get("status"), STATUS_FILTERS, "open")
    kind = _choice(request.query.get("kind"), KIND_FILTERS, "")
    mine = request.query.get("assignee") == "me"
    params = {"status": status, "kind": kind, "page": page_number(request)}
    params["page_size"] = str(PAGE_SIZE)
    if mine:
        params["assignee"] = "me"
    reply = checked(await api(request).get(API, params=params))
    filters = Form(values={"status": status, "kind": kind, "assignee": "me" if mine else ""})
    return render(
        request,
        "console/cases.html",
        title="Sprawy",
        cases=reply.json() if reply.ok else None,
        filters=filters,
        query={k: v for k, v in params.items() if k not in ("page", "page_size") and v},
        status_filters=STATUS_FILTERS,
        kind_filters=KIND_FILTERS,
        tags=STATUS_TAGS,
        deadline=deadline_text,
    )


def _case_path(case_id: str) -> str:
    return f"{QUEUE}/{case_id}"


async def _case_page(
    request: web.Request, case_id: str, forms: dict[str, Form] | None = None, status: int = 200
) -> web.Response:
    reply = checked(await api(request).get(f"{API}/{case_id}"))
    if reply.status == 404:
        raise web.HTTPNotFound()
    found: dict[str, Any] | None = reply.json() if reply.ok else None
    return render(
        request,
        "console/case.html",
        title=f"Sprawa {found['number']}" if found else "Sprawa",
        case=found,
        details=details_of(found["kind"], found.get("details") or {}) if found else [],
        deadline=deadline_text(found.get("reply_due"), found["status"]) if found else None,
        tags=STATUS_TAGS,
        settable=SETTABLE,
        history=[(h, history_entry(h)) for h in found.get("history") or []] if found else [],
        actor_kinds=ACTOR_KINDS,
        forms={"reply": Form(), "status": Form(), "evidence": Form(), "close": Form()}
        | (forms or {}),
        status=status,
    )


@routes.get(QUEUE + "/{case_id}")
@console_page(CUSTOMER_SERVICE)
async def case(request: web.Request) -> web.StreamResponse:
    return await _case_page(request, valid_uuid(request.match_info["case_id"]))


@routes.get(QUEUE + "/{case_id}/zalaczniki/{attachment_id}")
@console_page(CUSTOMER_SERVICE)
async def attachment(request: web.Request) -> web.StreamResponse:
    case_id = valid_uuid(request.match_info["case_id"])
    attachment_id = valid_uuid(request.match_info["attachment_id"])
    reply = checked(await api(request).get(f"{API}/{case_id}/attachments/{attachment_id}"))
    if not reply.ok:
        raise web.HTTPNotFound()
    return passthrough(reply, "zalacznik")


# -- what can be done to a case ------------------------------------------------------------------

# action → (the form's name on the page, the API call, its success message)
ACTIONS: dict[str, tuple[str, str, str, str]] = {
    "przydziel": ("take", "POST", "/assignment", "Sprawa jest teraz przydzielona Tobie."),
    "odpowiedz": ("reply", "POST", "/replies", "Odpowiedź wysłana. Klient dostał e-mail."),
    "status": ("status", "PUT", "/status", "Status sprawy zmieniony."),
    "dowody": (
        "evidence",
        "POST",
        "/evidence-needed",
        "Odnotowano potrzebę uzupełnienia dowodów; termin odpowiedzi przedłużono.",
    ),
    "zamknij": ("close", "POST", "/closure", "Sprawa zamknięta."),
}
# the form's field → the API body's field, per action
FIELDS = {
    "reply": {"reply_body": "body"},
    "status": {"new_status": "status"},
    "evidence": {"evidence_note": "note"},
    "close": {"close_note": "note"},
}


def _body(name: str, form: Form) -> dict[str, str] | None:
    body = {api_name: form.value(field) for field, api_name in FIELDS.get(name, {}).items()}
    body = {k: v for k, v in body.items() if v}
    if name == "reply" and "body" not in body:
        form.error("reply_body", "Wpisz treść odpowiedzi.")
    if name == "status" and "status" not in body:
        form.error("new_status", "Wybierz status.")
    return body or None


@routes.post(QUEUE + "/{case_id}/{action}")
@console_page(CUSTOMER_SERVICE)
async def act(request: web.Request) -> web.StreamResponse:
    case_id = valid_uuid(request.match_info["case_id"])
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise web.HTTPNotFound()
    name, method, tail, message = ACTIONS[action]
    form = await read_form(request)
    body = _body(name, form)
    # A reply's files go with it as the API's form (document + attachments), as a
    # customer's letter does; the service checks them (type, size, count).
    files = uploads(await request.post(), "attachments") if name == "reply" else []
    if not form.invalid:
        path = f"{API}/{case_id}{tail}"
        if files:
            sent = multipart(
                [("document", json_part(body), "application/json")], files, str(uuid.uuid4())
            )
            reply = checked(await api(request).call(method, path, data=sent))
        else:
            reply = checked(await api(request).call(method, path, json_body=body))
        if reply.ok:
            done(request, message, _case_path(case_id))
        if reply.status == 404:
            raise web.HTTPNotFound()
        api_fields = {api_name: field for field, api_name in FIELDS.get(name, {}).items()}
        known = [*api_fields.values(), *(["attachments"] if name == "reply" else [])]
        form.take_problem(reply.problem, api_fields, known=known)
    if files and "attachments" not in form.errors:
        form.error("attachments", "Wybierz pliki ponownie: przeglądarka ich nie zachowuje.")
    return await _case_page(request, case_id, {name: form}, status=422)
