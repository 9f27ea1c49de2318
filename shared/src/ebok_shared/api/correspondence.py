"""correspondence's contract: what a customer may send, kind by kind (one schema per kind,
chosen by ``kind``), their cases, and the operators' queue and actions."""

from __future__ import annotations

from typing import Any

from .types import (
    ANY_OBJECT,
    BOOLEAN,
    DATE_TIME,
    DEAD_LETTER_OPERATIONS,
    FILE,
    INTEGER,
    PAGE,
    STRING,
    UUID,
    Operation,
    array,
    choice,
    closed,
    nullable,
    page_of,
    shape,
    text,
)

KINDS = ("failure_report", "water_quality_complaint", "data_change", "reklamacja", "letter")
STATUSES = ("received", "in_progress", "answered", "closed")
SETTABLE_STATUSES = ("received", "in_progress", "answered")  # closing is its own action

WATER_PROBLEMS = {
    "colour": "barwa",
    "smell": "zapach",
    "taste": "smak",
    "pressure": "ciśnienie",
    "turbidity": "mętność",
    "sediment": "osad",
    "other": "inne",
}
INVOICE_NUMBER_PATTERN = r"^\d{10,20}$"
METER_SERIAL_PATTERN = r"^[A-Z0-9-]{3,30}$"

PHONE = text(20, 9)
PLACE = text(500, 3)
SINCE = text(25)
ADDRESS = closed(
    ["street", "postal_code", "city"],
    street=text(200),
    postal_code={"type": "string", "pattern": r"^\d{2}-\d{3}$"},
    city=text(100),
)


def _kind_schema(kind: str, required: list[str], **properties: Any) -> dict[str, Any]:
    return closed(["kind", *required], kind={"const": kind}, contact_phone=PHONE, **properties)


# The first check of any document: a kind we know (then the kind's own schema).
KIND_SCHEMA = {
    "type": "object",
    "required": ["kind"],
    "properties": {"kind": {"enum": list(KINDS)}},
}
SCHEMAS: dict[str, dict[str, Any]] = {
    "failure_report": _kind_schema(
        "failure_report",
        ["place", "description", "since", "contact_phone"],
        place=PLACE,
        description=text(5000),
        since=SINCE,
    ),
    "water_quality_complaint": _kind_schema(
        "water_quality_complaint",
        ["place", "problems", "since"],
        place=PLACE,
        problems={
            "type": "array",
            "minItems": 1,
            "maxItems": len(WATER_PROBLEMS),
            "items": {"enum": list(WATER_PROBLEMS)},
        },
        description=text(5000),
        since=SINCE,
    ),
    "data_change": _kind_schema(
        "data_change",
        ["changes"],
        changes={
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "name": text(200, 2),
                "address": ADDRESS,
                "correspondence_address": ADDRESS,
                "phone": PHONE,
                "email": {"type": "string", "format": "email", "maxLength": 254},
            },
        },
        comment=text(2000),
    ),
    "reklamacja": _kind_schema(
        "reklamacja",
        ["reason"],
        invoice_number={"type": "string", "pattern": INVOICE_NUMBER_PATTERN},
        meter_serial={"type": "string", "pattern": METER_SERIAL_PATTERN},
        reason=text(5000),
    ),
    "letter": _kind_schema(
        "letter", ["subject", "content"], subject=text(200), content=text(10000)
    ),
}
# The document as the API describes it: one of the kinds' schemas, chosen by ``kind``.
DOCUMENT = {
    "oneOf": [SCHEMAS[kind] for kind in KINDS],
    "discriminator": {"propertyName": "kind"},
}
DOCUMENT_FIELD = "document"
FILES_FIELD = "attachments"
MAX_ATTACHMENTS = 5  # the service's default (CORRESPONDENCE_ATTACHMENTS_MAX)
FILES = {
    "type": "array",
    "maxItems": MAX_ATTACHMENTS,
    "items": {**FILE, "description": "PDF, JPEG lub PNG, najwyżej 10 MB."},
}
# The form: the document as JSON text in one field, the files in another (up to five).
DOCUMENT_FORM = {
    "type": "object",
    "required": [DOCUMENT_FIELD],
    "properties": {
        DOCUMENT_FIELD: {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": DOCUMENT,
            "description": "Pismo jako JSON (jak w treści application/json).",
        },
        FILES_FIELD: FILES,
    },
}

# Files added to an open case: the attachments field of the letter's form alone.
ADDED_FILES_FORM = {"type": "object", "required": [FILES_FIELD], "properties": {FILES_FIELD: FILES}}

REPLY_SCHEMA = closed(["body"], body=text(20000))
# An operator's reply with files: the letter's form, the reply as its document.
REPLY_FORM = {
    "type": "object",
    "required": [DOCUMENT_FIELD],
    "properties": {
        DOCUMENT_FIELD: {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": REPLY_SCHEMA,
            "description": "Odpowiedź jako JSON (jak w treści application/json).",
        },
        FILES_FIELD: FILES,
    },
}
STATUS_SCHEMA = closed(["status"], status={"enum": list(SETTABLE_STATUSES)})
NOTE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"note": text(2000)},
}

# -- answers -------------------------------------------------------------------------------

ATTACHMENT = shape(
    ["id", "filename", "content_type", "size", "path"],
    id=UUID,
    filename=STRING,
    content_type=STRING,
    size=INTEGER,
    path=STRING,
    # the operator's reply the file came with (None: the customer's own)
    reply_id=nullable(UUID),
)
_HEADER = {
    "id": UUID,
    "number": STRING,
    "kind": {"enum": list(KINDS)},
    "kind_label": STRING,
    "status": {"enum": list(STATUSES)},
    "status_label": STRING,
    "urgent": BOOLEAN,
    "submitted_at": DATE_TIME,
    "reply_due": nullable(STRING),
}
# The answer to "send" names each file stored (its link comes with the case).
_STORED = shape(id=UUID, filename=STRING, content_type=STRING, size=INTEGER)
SUBMITTED = shape(**_HEADER, attachments=array(_STORED))
_REPLY = shape(id=UUID, author=STRING, body=STRING, created_at=DATE_TIME)
_CASE = {
    **_HEADER,
    "evidence_needed": BOOLEAN,
    "closed_at": nullable(DATE_TIME),
    "attachments": array(ATTACHMENT),
}
CUSTOMER_CASE_ITEM = shape(**_CASE, replies=array(_REPLY))
CUSTOMER_CASE = shape(
    **_CASE, replies=array(_REPLY), details=ANY_OBJECT, contact_phone=nullable(STRING)
)
OPERATOR_CASE_ITEM = shape(
    **_CASE,
    client_number=STRING,
    account_linked=BOOLEAN,
    assignee=nullable(STRING),
    updated_at=nullable(DATE_TIME),
)
OPERATOR_CASE = shape(
    [*_CASE, "client_number", "details", "replies", "history"],
    **OPERATOR_CASE_ITEM["properties"],
    details=ANY_OBJECT,
    contact_phone=nullable(STRING),
    replies=array(_REPLY),
    history=array(
        shape(
            ["at", "action"], at=DATE_TIME, actor_kind=STRING, actor=nullable(STRING), action=STRING
        )
    ),
)
REPLIED = shape(reply_id=UUID, case=OPERATOR_CASE_ITEM)

_FILTERS = (
    choice("kind", KINDS, "Tylko pisma tego rodzaju."),
    *PAGE,
)
ATTACHMENT_TYPES = ("application/pdf", "image/jpeg", "image/png")

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/me/correspondence"): Operation(
        SUBMITTED, DOCUMENT, DOCUMENT_FORM, errors=(404, 409)
    ),
    ("GET", "/me/correspondence"): Operation(
        page_of(CUSTOMER_CASE_ITEM),
        query=(
            choice(
                "status", (*STATUSES, "open"), "Tylko sprawy o tym stanie (open: niezamknięte)."
            ),
            *_FILTERS,
        ),
    ),
    ("GET", "/me/correspondence/{case_id}"): Operation(CUSTOMER_CASE, errors=(404,)),
    ("GET", "/me/correspondence/{case_id}/attachments/{attachment_id}"): Operation(errors=(404,)),
    ("POST", "/me/correspondence/{case_id}/attachments"): Operation(
        CUSTOMER_CASE, form=ADDED_FILES_FORM, errors=(404, 409)
    ),
    # operators
    ("GET", "/operator/cases"): Operation(
        page_of(OPERATOR_CASE_ITEM),
        query=(
            choice("status", (*STATUSES, "open", "all"), "Stan spraw (domyślnie open)."),
            choice("assignee", ("me",), "Tylko sprawy przypisane do mnie."),
            *_FILTERS,
        ),
    ),
    ("GET", "/operator/cases/{case_id}"): Operation(OPERATOR_CASE, errors=(404,)),
    ("GET", "/operator/cases/{case_id}/attachments/{attachment_id}"): Operation(errors=(404,)),
    ("POST", "/operator/cases/{case_id}/assignment"): Operation(
        OPERATOR_CASE_ITEM, errors=(404, 409)
    ),
    ("POST", "/operator/cases/{case_id}/replies"): Operation(
        REPLIED, REPLY_SCHEMA, REPLY_FORM, errors=(404, 409)
    ),
    ("PUT", "/operator/cases/{case_id}/status"): Operation(
        OPERATOR_CASE_ITEM, STATUS_SCHEMA, errors=(404, 409)
    ),
    ("POST", "/operator/cases/{case_id}/evidence-needed"): Operation(
        OPERATOR_CASE_ITEM, NOTE_SCHEMA, body_optional=True, errors=(404, 409)
    ),
    ("POST", "/operator/cases/{case_id}/closure"): Operation(
        OPERATOR_CASE_ITEM, NOTE_SCHEMA, body_optional=True, errors=(404, 409)
    ),
    ("GET", "/operator/queue-counts"): Operation(
        shape(
            open=INTEGER,
            urgent=INTEGER,
            unassigned=INTEGER,
            evidence_needed=INTEGER,
            overdue=INTEGER,
        )
    ),
    **DEAD_LETTER_OPERATIONS,
}
