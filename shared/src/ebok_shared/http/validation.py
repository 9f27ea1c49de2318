"""Request bodies: JSON parsed and checked against a JSON Schema, errors named per field in Polish."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from .problems import Problem

MAX_ITEMS_DEFAULT = 1000


@cache
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json), format_checker=FormatChecker())


def _reason(error: ValidationError) -> tuple[str, str]:
    path = ".".join(str(p) for p in error.absolute_path)
    v, value = error.validator, error.validator_value
    if v == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return (f"{path}.{missing}" if path else missing), "pole jest wymagane"
    if v == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        name = extra[0] if extra else ""
        return (f"{path}.{name}" if path else name), "nieznane pole"
    reasons = {
        "type": lambda: f"nieprawidłowy typ (oczekiwano: {_type_pl(value)})",
        "minLength": lambda: f"za krótkie (co najmniej {value} znaków)",
        "maxLength": lambda: f"za długie (najwyżej {value} znaków)",
        "pattern": lambda: "nieprawidłowy format",
        "format": lambda: f"nieprawidłowy format ({_format_pl(value)})",
        "minimum": lambda: f"wartość musi być co najmniej {value}",
        "maximum": lambda: f"wartość może wynosić najwyżej {value}",
        "exclusiveMinimum": lambda: f"wartość musi być większa niż {value}",
        "exclusiveMaximum": lambda: f"wartość musi być mniejsza niż {value}",
        "enum": lambda: "dozwolone wartości: " + ", ".join(map(str, value)),
        "const": lambda: f"dozwolona wartość: {value}",
        "maxItems": lambda: f"za dużo elementów (najwyżej {value})",
        "minItems": lambda: f"za mało elementów (co najmniej {value})",
        "multipleOf": lambda: f"wartość musi być wielokrotnością {value}",
    }
    reason = reasons.get(str(v), lambda: "nieprawidłowa wartość")()
    return path or "(body)", reason


def _type_pl(value: Any) -> str:
    names = {"string": "tekst", "integer": "liczba całkowita", "number": "liczba",
             "boolean": "prawda/fałsz", "object": "obiekt", "array": "lista", "null": "null"}
    if isinstance(value, list):
        return " lub ".join(names.get(v, v) for v in value)
    return names.get(value, str(value))


def _format_pl(value: Any) -> str:
    return {"email": "adres e-mail", "date": "data RRRR-MM-DD", "date-time": "data i czas ISO 8601",
            "uuid": "identyfikator UUID", "uri": "adres URI"}.get(value, str(value))


def validate(data: Any, schema: dict[str, Any]) -> None:
    """Raise a 422 problem naming every field that breaks ``schema``."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        fields = [dict(zip(("field", "reason"), _reason(e), strict=True)) for e in errors]
        raise Problem(
            422,
            "Popraw wskazane pola: " + "; ".join(f"{f['field']}: {f['reason']}" for f in fields),
            code="validation",
            errors=fields,
        )


async def read_json(request: web.Request, schema: dict[str, Any]) -> Any:
    """The request's JSON body, validated. Size is capped by the app's client_max_size."""
    if request.content_type != "application/json":
        raise Problem(415, "Treść żądania musi być w formacie JSON (application/json).",
                      code="unsupported-media-type")
    raw = await request.read()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(400, f"Treść żądania nie jest poprawnym JSON-em ({exc}).",
                      code="malformed-json",
                      errors=[{"field": "(body)", "reason": "niepoprawny JSON"}]) from None
    validate(data, schema)
    return data
