"""What a customer may send, kind by kind: the JSON Schema of each kind's fields (the shared
validator names every missing or wrong field in Polish) and the rules a schema cannot say
(a date not in the future, a phone number's digits, one subject of a reklamacja). Pure: the
ownership of an invoice or a meter is checked by the submit use case against the projections."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from ebok_shared.api.correspondence import INVOICE_NUMBER_PATTERN, KIND_SCHEMA, METER_SERIAL_PATTERN
from ebok_shared.api.correspondence import SCHEMAS as KIND_SCHEMAS
from ebok_shared.clock import LOCAL_TZ
from ebok_shared.http.validation import validate
from ebok_shared.refusals import Refusal

from .domain import Kind

INVOICE_NUMBER_RE = re.compile(INVOICE_NUMBER_PATTERN)
METER_SERIAL_RE = re.compile(METER_SERIAL_PATTERN)
_PHONE_CHARS = re.compile(r"^\+?[0-9 ()-]+$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?$"
)
CLOCK_SKEW = dt.timedelta(minutes=5)
# Each kind's JSON Schema is the public API's (``ebok_shared.api.correspondence``), by kind.
SCHEMAS: dict[Kind, dict[str, Any]] = {kind: KIND_SCHEMAS[kind.value] for kind in Kind}
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
