"""What a customer may send, kind by kind: the JSON Schema of each kind's fields (the shared
validator names every missing or wrong field in Polish) and the rules a schema cannot say
(a date not in the future, a phone number's digits, one subject of a reklamacja). Pure: the
ownership of an invoice or a meter is checked by the submit use case against the projections."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from ebok_shared.clock import LOCAL_TZ
from ebok_shared.http.validation import validate
from ebok_shared.refusals import Refusal

from .domain import Kind

WATER_PROBLEMS = {
    "colour": "barwa",
    "smell": "zapach",
    "taste": "smak",
    "pressure": "ciśnienie",
    "turbidity": "mętność",
    "sediment": "osad",
    "other": "inne",
}
INVOICE_NUMBER_RE = re.compile(r"^\d{10,20}$")
METER_SERIAL_RE = re.compile(r"^[A-Z0-9-]{3,30}$")
_PHONE_CHARS = re.compile(r"^\+?[0-9 ()-]+$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?$"
)
CLOCK_SKEW = dt.timedelta(minutes=5)


def _text(max_length: int, min_length: int = 1) -> dict[str, Any]:
    return {"type": "string", "minLength": min_length, "maxLength": max_length}


PHONE = _text(20, 9)
PLACE = _text(500, 3)
SINCE = _text(25)
ADDRESS = {
    "type": "object",
    "required": ["street", "postal_code", "city"],
    "additionalProperties": False,
    "properties": {
        "street": _text(200),
        "postal_code": {"type": "string", "pattern": r"^\d{2}-\d{3}$"},
        "city": _text(100),
    },
}


def _kind_schema(kind: Kind, required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["kind", *required],
        "additionalProperties": False,
        "properties": {"kind": {"const": kind.value}, "contact_phone": PHONE, **properties},
    }


KIND_SCHEMA = {
    "type": "object",
    "required": ["kind"],
    "properties": {"kind": {"enum": [k.value for k in Kind]}},
}
SCHEMAS: dict[Kind, dict[str, Any]] = {
    Kind.FAILURE_REPORT: _kind_schema(
        Kind.FAILURE_REPORT,
        ["place", "description", "since", "contact_phone"],
        {"place": PLACE, "description": _text(5000), "since": SINCE},
    ),
    Kind.WATER_QUALITY_COMPLAINT: _kind_schema(
        Kind.WATER_QUALITY_COMPLAINT,
        ["place", "problems", "since"],
        {
            "place": PLACE,
            "problems": {
                "type": "array",
                "minItems": 1,
                "maxItems": len(WATER_PROBLEMS),
                "items": {"enum": list(WATER_PROBLEMS)},
            },
            "description": _text(5000),
            "since": SINCE,
        },
    ),
    Kind.DATA_CHANGE: _kind_schema(
        Kind.DATA_CHANGE,
        ["changes"],
        {
            "changes": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "name": _text(200, 2),
                    "address": ADDRESS,
                    "correspondence_address": ADDRESS,
                    "phone": PHONE,
                    "email": {"type": "string", "format": "email", "maxLength": 254},
                },
            },
            "comment": _text(2000),
        },
    ),
    Kind.REKLAMACJA: _kind_schema(
        Kind.REKLAMACJA,
        ["reason"],
        {
            "invoice_number": {"type": "string", "pattern": INVOICE_NUMBER_RE.pattern},
            "meter_serial": {"type": "string", "pattern": METER_SERIAL_RE.pattern},
            "reason": _text(5000),
        },
    ),
    Kind.LETTER: _kind_schema(
        Kind.LETTER, ["subject", "content"], {"subject": _text(200), "content": _text(10000)}
    ),
}
# Fields whose text must not be only blanks, by kind.
_NOT_BLANK = {
    Kind.FAILURE_REPORT: ("place", "description"),
    Kind.WATER_QUALITY_COMPLAINT: ("place", "description"),
    Kind.DATA_CHANGE: ("comment",),
    Kind.REKLAMACJA: ("reason",),
    Kind.LETTER: ("subject", "content"),
}


@dataclass(frozen=True)
class Document:
    kind: Kind
    details: dict[str, Any]  # the kind's own fields, trimmed (no kind, no contact phone)
    contact_phone: str | None

    @property
    def invoice_number(self) -> str | None:
        return self.details.get("invoice_number") if self.kind is Kind.REKLAMACJA else None

    @property
    def meter_serial(self) -> str | None:
        return self.details.get("meter_serial") if self.kind is Kind.REKLAMACJA else None


def parse(data: Any, now: dt.datetime) -> Document:
    """A validated document, or a 422 refusal naming each wrong field (in Polish)."""
    validate(data, KIND_SCHEMA)
    kind = Kind(data["kind"])
    validate(data, SCHEMAS[kind])
    fields = {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
    errors: list[dict[str, str]] = []
    for name in _NOT_BLANK[kind]:
        if name in fields and not fields[name]:
            errors.append({"field": name, "reason": "pole nie może być puste"})
    if "contact_phone" in fields:
        _check_phone(fields, "contact_phone", "contact_phone", errors)
    if "since" in fields:
        _check_since(fields, now, errors)
    _KIND_RULES[kind](fields, errors)
    if errors:
        raise Refusal(
            422,
            "validation",
            "Popraw wskazane pola: " + "; ".join(f"{e['field']}: {e['reason']}" for e in errors),
            errors=errors,
        )
    phone = fields.pop("contact_phone", None)
    fields.pop("kind")
    return Document(kind, fields, phone)


def _check_phone(
    holder: dict[str, Any], key: str, field: str, errors: list[dict[str, str]]
) -> None:
    value = holder[key].strip()
    digits = re.sub(r"\D", "", value)
    if not _PHONE_CHARS.match(value) or not 9 <= len(digits) <= 15:
        errors.append(
            {"field": field, "reason": "nieprawidłowy numer telefonu (9–15 cyfr, np. 600 100 200)"}
        )
    holder[key] = value


def _check_since(fields: dict[str, Any], now: dt.datetime, errors: list[dict[str, str]]) -> None:
    raw = fields["since"]
    try:
        if _DATE_RE.match(raw):
            since = dt.datetime.combine(dt.date.fromisoformat(raw), dt.time(), LOCAL_TZ)
        elif _DATE_TIME_RE.match(raw):
            since = dt.datetime.fromisoformat(raw.replace(" ", "T").replace("Z", "+00:00"))
            if since.tzinfo is None:
                since = since.replace(tzinfo=LOCAL_TZ)
        else:
            raise ValueError(raw)
    except ValueError:
        errors.append(
            {
                "field": "since",
                "reason": "nieprawidłowa data (RRRR-MM-DD lub data z godziną RRRR-MM-DDTGG:MM)",
            }
        )
        return
    if since > now + CLOCK_SKEW:
        errors.append({"field": "since", "reason": "data nie może być z przyszłości"})


def _failure_rules(fields: dict[str, Any], errors: list[dict[str, str]]) -> None:
    pass


def _quality_rules(fields: dict[str, Any], errors: list[dict[str, str]]) -> None:
    fields["problems"] = list(dict.fromkeys(fields["problems"]))  # each named once
    if "other" in fields["problems"] and not fields.get("description"):
        errors.append({"field": "description", "reason": "opisz problem, gdy wybrano „inne”"})


def _data_change_rules(fields: dict[str, Any], errors: list[dict[str, str]]) -> None:
    changes = {
        k: ({n: s.strip() for n, s in v.items()} if isinstance(v, dict) else v.strip())
        for k, v in fields["changes"].items()
    }
    fields["changes"] = changes
    if not changes:
        errors.append({"field": "changes", "reason": "podaj co najmniej jedną nową wartość"})
    if "phone" in changes:
        _check_phone(changes, "phone", "changes.phone", errors)
    for key, value in changes.items():
        blank = [n for n, s in value.items() if not s] if isinstance(value, dict) else []
        if (isinstance(value, str) and not value) or blank:
            errors.append({"field": f"changes.{key}", "reason": "pole nie może być puste"})


def _reklamacja_rules(fields: dict[str, Any], errors: list[dict[str, str]]) -> None:
    has_invoice, has_meter = "invoice_number" in fields, "meter_serial" in fields
    if not has_invoice and not has_meter:
        errors.append(
            {
                "field": "invoice_number",
                "reason": "podaj numer faktury albo numer wodomierza, którego dotyczy reklamacja",
            }
        )
    elif has_invoice and has_meter:
        errors.append(
            {
                "field": "meter_serial",
                "reason": "reklamacja dotyczy jednej faktury albo jednego wodomierza – podaj jedno",
            }
        )


def _letter_rules(fields: dict[str, Any], errors: list[dict[str, str]]) -> None:
    pass


_KIND_RULES = {
    Kind.FAILURE_REPORT: _failure_rules,
    Kind.WATER_QUALITY_COMPLAINT: _quality_rules,
    Kind.DATA_CHANGE: _data_change_rules,
    Kind.REKLAMACJA: _reklamacja_rules,
    Kind.LETTER: _letter_rules,
}
