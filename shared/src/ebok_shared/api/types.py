"""The pieces every contract module builds with: an operation's description and the JSON
Schema shapes e-BOK's answers share (amounts as strings, dates as ISO text, paged lists)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Schema = dict[str, Any]


@dataclass(frozen=True)
class Param:
    """A query parameter: its name, schema and what it does (Polish, for API users)."""

    name: str
    schema: Schema
    description: str


@dataclass(frozen=True)
class Operation:
    """What one route takes and answers. ``answer`` is the JSON success answer (None: no
    JSON, e.g. 204 or a file); ``errors`` the problem statuses particular to this route
    (the gateway adds the ones every route of its kind can give)."""

    answer: Schema | None = None
    body: Schema | None = None  # application/json request body
    form: Schema | None = None  # multipart/form-data request body (fields and files)
    raw_body: tuple[str, ...] = ()  # media types of a body taken as it is (a feed's file)
    body_optional: bool = False  # the body may be left out
    query: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()
    also_ok: tuple[int, ...] = ()  # another success status with the same answer


# -- request bodies: closed objects (an unknown field is refused) --------------------------


def closed(required: list[str], **props: Any) -> Schema:
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": props,
    }


def text(max_length: int, min_length: int = 1) -> Schema:
    return {"type": "string", "minLength": min_length, "maxLength": max_length}


FILE: Schema = {"type": "string", "format": "binary"}


def form_of(body: Schema, files: dict[str, Schema], booleans: tuple[str, ...] = ()) -> Schema:
    """A multipart form with the JSON body's fields as text (``booleans`` as true/false)
    and the given file fields."""
    props = {
        name: {"enum": ["true", "false"]} if name in booleans else schema
        for name, schema in body["properties"].items()
    }
    return {**body, "properties": {**props, **files}}


# -- answers: the fields e-BOK promises; a newer service may add fields ------------------------

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
DATE: Schema = {"type": "string", "format": "date"}
DATE_TIME: Schema = {"type": "string", "format": "date-time"}
UUID: Schema = {"type": "string", "format": "uuid"}
MONEY: Schema = {"type": "string", "pattern": r"^-?\d+\.\d{2}$"}
DECIMAL: Schema = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}
ANY_OBJECT: Schema = {"type": "object"}
STRINGS: Schema = {"type": "array", "items": STRING}


def shape(required: list[str] | None = None, /, **props: Any) -> Schema:
    """An answer object: ``required`` are always there (all listed ones if None)."""
    return {
        "type": "object",
        "required": list(props) if required is None else required,
        "properties": props,
    }


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def array(item: Schema) -> Schema:
    return {"type": "array", "items": item}


def items_of(item: Schema, **extra: Schema) -> Schema:
    """``{"items": [...]}`` (and the extra fields given)."""
    return shape(["items", *extra], items=array(item), **extra)


def page_of(item: Schema, **extra: Schema) -> Schema:
    """The one shape of every paged list (``ebok_shared.http.params.Page.envelope``)."""
    return shape(
        ["items", "page", "page_size", "total", "pages", *extra],
        items=array(item),
        page=INTEGER,
        page_size=INTEGER,
        total=INTEGER,
        pages=INTEGER,
        **extra,
    )


MESSAGE: Schema = shape(message=STRING)

# A back-office feed's batch (``ebok_shared.feed.BatchResult``, and a listed batch).
FEED_BATCH = shape(
    ["batch_id", "status", "format", "row_count", "error_count", "submitted_by", "received_at"],
    batch_id=UUID,
    kind=STRING,
    status=STRING,
    replayed=BOOLEAN,
    format=STRING,
    row_count=INTEGER,
    applied=INTEGER,
    unchanged=INTEGER,
    summary=nullable(ANY_OBJECT),
    error_count=INTEGER,
    errors=array(shape(line=INTEGER, field=STRING, reason=STRING)),
    submitted_by=nullable(STRING),
    received_at=nullable(DATE_TIME),
)
# What a feed reads: CSV or JSON lines (the format also named by ?format=).
FEED_MEDIA_TYPES = ("text/csv", "application/x-ndjson")

# RFC 9457 as every e-BOK component answers it (``ebok_shared.http.problems.Problem``): ``errors``
# names each wrong field (a back-office feed's also its line); some problems add their own
# members (``restrictions``, ``section``, ``services``, ``batch_id`` …).
PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "instance": {"type": "string"},
        "correlation_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {
                    "field": {"type": "string"},
                    "reason": {"type": "string"},
                    "line": {"type": "integer"},
                },
            },
        },
        # what a restricted session must do first (password_change, regulations)
        "restrictions": {"type": "array", "items": {"type": "string"}},
        "section": {"type": "string"},  # the portal section switched off or read only
        "service": {"type": "string"},  # the service that did not answer
        "services": {"type": "array", "items": {"type": "string"}},  # an export's missing parts
        "batch_id": {"type": "string"},  # a rejected feed batch
        "error_count": {"type": "integer"},
    },
}

# -- query parameters -------------------------------------------------------------------------

PAGE = (
    Param("page", {"type": "integer", "minimum": 1, "maximum": 100_000}, "Numer strony (od 1)."),
    Param("page_size", {"type": "integer", "minimum": 1, "maximum": 100}, "Pozycji na stronie."),
)


def choice(name: str, values: tuple[str, ...] | list[str], description: str) -> Param:
    return Param(name, {"type": "string", "enum": list(values)}, description)


FEED_FORMAT = choice("format", ("csv", "jsonl"), "Format partii, gdy nie wynika z Content-Type.")


# -- every service's operator routes for its dead-letter queue (ebok_shared.http.dead_letters)

_PARKED = shape(
    message_id=STRING, type=STRING, error=STRING, dead_lettered_at=STRING, body=STRING, size=INTEGER
)
DEAD_LETTER_OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/operator/dead-letters"): Operation(
        shape(queue=STRING, items=array(_PARKED), more=BOOLEAN),
        query=(Param("limit", {"type": "integer", "minimum": 1}, "Najwyżej tyle komunikatów."),),
    ),
    ("GET", "/operator/dead-letters/{message_id}"): Operation(_PARKED, errors=(404,)),
    ("POST", "/operator/dead-letters/{message_id}/redrive"): Operation(
        shape(message_id=STRING, moved=INTEGER), errors=(404,)
    ),
    ("POST", "/operator/dead-letters/redrive"): Operation(shape(moved=INTEGER)),
}
