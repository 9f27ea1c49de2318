"""Request bodies: JSON parsed and checked against a JSON Schema; errors per field, in Polish."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from functools import cache, partial
from typing import Any

import fastjsonschema  # compiled checks: many times faster than jsonschema on what passes
from aiohttp import web
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema._format import is_uuid as _jsonschema_is_uuid
from jsonschema.exceptions import ValidationError

from ..addresses import valid_email
from .hardening import forbidden_text
from .problems import Problem

MAX_ITEMS_DEFAULT = 1000
# No e-BOK body nests deeper than a few levels; the limit keeps parsing and validating flat.
MAX_JSON_DEPTH = 32


_DATE_TIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)
FORMAT_CHECKER = FormatChecker()


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_date_time(instance: object) -> bool:
    """RFC 3339 date-time (jsonschema checks it only if rfc3339-validator is installed)."""
    if not isinstance(instance, str):
        return True
    return bool(_DATE_TIME_RE.match(instance)) and bool(dt.datetime.fromisoformat(instance.upper()))


_CANONICAL_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", re.ASCII
)


@FORMAT_CHECKER.checks("uuid", raises=ValueError)
def _is_uuid(instance: object) -> bool:
    """jsonschema's own check, with its commonest case first: a canonical UUID (every event
    envelope's id, most payloads' ids), which that check accepts, is taken by one regular
    expression instead of building a UUID (about 3 µs a string, twice on every event
    published and again on every one consumed). Anything else gets jsonschema's verdict."""
    if isinstance(instance, str) and _CANONICAL_UUID_RE.fullmatch(instance):
        return True
    return bool(_jsonschema_is_uuid(instance))


@FORMAT_CHECKER.checks("email")
def _is_email(instance: object) -> bool:
    """Every address a request body carries follows the one rule of ``ebok_shared.addresses``
    (the notifier's: no quoted local parts, no HTML, no display names)."""
    return not isinstance(instance, str) or valid_email(instance)


# Keywords whose meaning is the same in draft 7 (what fastjsonschema compiles) and 2020-12.
# A schema using any other keyword is checked by jsonschema alone.
_COMPILABLE = frozenset(
    """$schema $id title description examples $comment type enum const properties required
    additionalProperties minProperties maxProperties pattern minLength maxLength format
    minimum maximum exclusiveMinimum exclusiveMaximum multipleOf items minItems maxItems
    uniqueItems allOf anyOf oneOf not""".split()
)
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")


def _compilable(schema: Any) -> bool:
    if not isinstance(schema, dict) or not schema.keys() <= _COMPILABLE:
        return False
    if isinstance(schema.get("items"), list):  # a tuple in draft 7, an error in 2020-12
        return False
    children = [
        *schema.get("properties", {}).values(),
        *(schema[k] for k in ("additionalProperties", "items", "not") if k in schema),
        *(child for k in _SCHEMA_LISTS for child in schema.get(k, [])),
    ]
    return all(isinstance(c, bool) or _compilable(c) for c in children)


def compile_schema(schema: dict[str, Any]) -> Callable[[Any], Any] | None:
    """A compiled check of ``schema`` (raises on any refusal), or None if the schema uses a
    keyword it cannot compile with the same meaning. Only its acceptance counts: whatever it
    refuses goes to jsonschema, whose verdict and messages stand (see ``validate``)."""
    if not _compilable(schema):
        return None
    check: Callable[[Any], Any] = fastjsonschema.compile(
        {k: v for k, v in schema.items() if k != "$schema"},
        formats={name: _format_check(name) for name in _format_names(schema)},
        use_default=False,  # never write defaults into the data
    )
    return check


def _format_check(name: str) -> Callable[[Any], Any]:
    """Formats are checked by jsonschema's own checker, so each means exactly what it means
    there, whatever fastjsonschema's own regexes would say. Its function itself, not through
    ``conforms`` (twice the time): it accepts exactly what ``conforms`` accepts (a true
    result, nothing raised), and whatever it raises is a refusal for jsonschema to judge."""
    found = FORMAT_CHECKER.checkers.get(name)
    if found is None:  # a format jsonschema does not check: it accepts anything
        return partial(FORMAT_CHECKER.conforms, format=name)
    function: Callable[[Any], Any] = found[0]
    return function


def _format_names(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        found = {schema["format"]} if isinstance(schema.get("format"), str) else set()
        return found.union(*(_format_names(v) for v in schema.values()))
    if isinstance(schema, list):
        return set().union(*(_format_names(v) for v in schema))
    return set()


_Checks = tuple[Draft202012Validator, Callable[[Any], Any] | None]


@cache
def _checks_of(schema_json: str) -> _Checks:
    schema = json.loads(schema_json)
    return Draft202012Validator(schema, format_checker=FORMAT_CHECKER), compile_schema(schema)


# The checks of each schema object seen, by its id: a schema is a module's constant, and
# serialising it to find its checks cost more than the check itself. The entry holds the
# schema, so its id is not reused while the entry stays. A schema built per call (``{}``)
# only fills the table until it is emptied at its bound; then each schema is found again
# by its text, compiled once per process whatever its object.
_BY_ID: dict[int, tuple[dict[str, Any], _Checks]] = {}
_BY_ID_BOUND = 1024


def _checks(schema: dict[str, Any]) -> _Checks:
    entry = _BY_ID.get(id(schema))
    if entry is not None:
        return entry[1]
    checks = _checks_of(json.dumps(schema, sort_keys=True))
    if len(_BY_ID) >= _BY_ID_BOUND:
        _BY_ID.clear()
    _BY_ID[id(schema)] = (schema, checks)
    return checks


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _reasons(error: ValidationError) -> list[tuple[str, str]]:
    path = ".".join(str(p) for p in error.absolute_path)
    v, value, instance = error.validator, error.validator_value, error.instance
    if v == "required" and isinstance(instance, dict):
        missing = [name for name in value if name not in instance]
        return [(_join(path, name), "pole jest wymagane") for name in missing]
    if v == "additionalProperties" and isinstance(instance, dict):
        known = set(error.schema.get("properties", {}))
        patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
        extra = [k for k in instance if k not in known and not any(p.search(k) for p in patterns)]
        return [(_join(path, name), "nieznane pole") for name in sorted(extra)]
    return [(path or "(body)", _reason(error))]


def _reason(error: ValidationError) -> str:
    value = error.validator_value
    reasons = {
        "type": lambda: f"nieprawidłowy typ (oczekiwano: {_type_pl(value)})",
        "minLength": lambda: f"za krótkie (co najmniej {_chars(value)})",
        "maxLength": lambda: f"za długie (najwyżej {_chars(value)})",
        "pattern": lambda: "nieprawidłowy format",
        "format": lambda: f"nieprawidłowy format ({_format_pl(value)})",
        "minimum": lambda: f"wartość musi być co najmniej {value}",
        "maximum": lambda: f"wartość może wynosić najwyżej {value}",
        "exclusiveMinimum": lambda: f"wartość musi być większa niż {value}",
        "exclusiveMaximum": lambda: f"wartość musi być mniejsza niż {value}",
        "enum": lambda: "dozwolone wartości: " + ", ".join(map(_shown, value)),
        "const": lambda: f"dozwolona wartość: {_shown(value)}",
        "maxItems": lambda: f"za dużo elementów (najwyżej {value})",
        "minItems": lambda: f"za mało elementów (co najmniej {value})",
        "multipleOf": lambda: f"wartość musi być wielokrotnością {value}",
    }
    return reasons.get(str(error.validator), lambda: "nieprawidłowa wartość")()


def _chars(count: int) -> str:
    """``count`` with "znak" in the Polish plural form it takes (1 znak, 2 znaki, 5 znaków)."""
    if count == 1:
        return "1 znak"
    if count % 10 in (2, 3, 4) and count % 100 not in (12, 13, 14):
        return f"{count} znaki"
    return f"{count} znaków"


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _type_pl(value: Any) -> str:
    names = {
        "string": "tekst",
        "integer": "liczba całkowita",
        "number": "liczba",
        "boolean": "prawda/fałsz",
        "object": "obiekt",
        "array": "lista",
        "null": "null",
    }
    if isinstance(value, list):
        return " lub ".join(names.get(v, str(v)) for v in value)
    return names.get(value, str(value))


def _format_pl(value: Any) -> str:
    return {
        "email": "adres e-mail",
        "date": "data RRRR-MM-DD",
        "date-time": "data i czas ISO 8601",
        "uuid": "identyfikator UUID",
        "uri": "adres URI",
    }.get(value, str(value))


# Characters no text can keep: PostgreSQL stores no NUL (text or jsonb), and a lone UTF-16
# surrogate (JSON allows "\ud800") is no character at all: storing either fails (a 500).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_UNSTORABLE_REASON = "niedozwolony znak (np. NUL)"


def _unstorable(data: Any, path: str = "") -> list[tuple[str, str]]:
    """Every string (value or name) of ``data`` that holds a character no text can keep."""
    if isinstance(data, str):
        return [(path or "(body)", _UNSTORABLE_REASON)] if _UNSTORABLE.search(data) else []
    found: list[tuple[str, str]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if _UNSTORABLE.search(key):
                found.append((path or "(body)", "niedozwolony znak w nazwie pola"))
            else:
                found += _unstorable(value, _join(path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _unstorable(value, _join(path, str(index)))
    return found


def validate(data: Any, schema: dict[str, Any]) -> None:
    """Raise a 422 problem naming every field that breaks ``schema`` or holds a character
    no text can keep."""
    validator, compiled = _checks(schema)
    found = set(_unstorable(data))
    if compiled is None or not _accepted(compiled, data):
        # one "required" error comes per missing name, each listing all the required names
        found |= {pair for error in validator.iter_errors(data) for pair in _reasons(error)}
    fields = [{"field": f, "reason": r} for f, r in sorted(found)]
    if fields:
        raise Problem(
            422,
            "Popraw wskazane pola: " + "; ".join(f"{f['field']}: {f['reason']}" for f in fields),
            code="validation",
            errors=fields,
        )


def _accepted(compiled: Callable[[Any], Any], data: Any) -> bool:
    try:
        compiled(data)
    except Exception:  # any refusal or surprise: jsonschema decides
        return False
    return True


async def read_json(request: web.Request, schema: dict[str, Any]) -> Any:
    """The request's JSON body, validated. Size is capped by the app's client_max_size."""
    if request.content_type != "application/json":
        raise Problem(
            415,
            "Treść żądania musi być w formacie JSON (application/json).",
            code="unsupported-media-type",
            errors=[{"field": "Content-Type", "reason": "oczekiwano application/json"}],
        )
    return parse_json(await request.read(), schema)


def parse_json(raw: bytes, schema: dict[str, Any] | None = None, *, field: str = "(body)") -> Any:
    """``raw`` parsed as JSON, checked by ``inspect_text`` and (``schema``) ``validate``:
    the one check of JSON text, whether it is a request's body or one part of a multipart
    form (then ``field`` names the part)."""
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        where = f" (wiersz {exc.lineno}, kolumna {exc.colno})"
        raise _malformed(where, field) from None
    except (ValueError, UnicodeDecodeError):  # not UTF-8, or NaN/Infinity
        raise _malformed("", field) from None
    except RecursionError:  # nested deeper than the parser goes
        raise _too_deep(field) from None
    inspect_text(data, root=field)
    if schema is not None:
        validate(data, schema)
    return data


def inspect_text(data: Any, *, root: str = "(body)") -> None:
    """400 if ``data`` nests deeper than MAX_JSON_DEPTH or any key or text in it holds a
    character no e-BOK text may (NUL, a lone surrogate such as "\\ud800", a control
    character): refused here, naming the field, rather than failing in a database or a
    password hasher. Fields are named as in ``validate`` (``a.0.b``); ``root`` names the
    whole (a JSON body, or a multipart form's fields, or one part of it)."""
    pending: list[tuple[Any, str, int]] = [(data, "", 1)]
    while pending:
        value, path, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise _too_deep(root)
        if isinstance(value, str) and forbidden_text(value):
            raise _forbidden(path or root)
        if isinstance(value, dict):
            for key, item in value.items():
                if forbidden_text(key):
                    raise _forbidden(path or root)
                pending.append((item, _join(path, key), depth + 1))
        elif isinstance(value, list):
            pending.extend((item, _join(path, str(i)), depth + 1) for i, item in enumerate(value))


def _too_deep(field: str) -> Problem:
    reason = f"zbyt głęboko zagnieżdżony JSON (najwyżej {MAX_JSON_DEPTH} poziomów)"
    whole = "Treść żądania" if field == "(body)" else field
    return Problem(
        400,
        f"{whole}: {reason}.",
        code="malformed-json",
        errors=[{"field": field, "reason": reason}],
    )


def _forbidden(field: str) -> Problem:
    reason = "niedozwolony znak (np. bajt NUL lub niepoprawny znak Unicode)"
    return Problem(
        400, f"{field}: {reason}", code="bad-request", errors=[{"field": field, "reason": reason}]
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _malformed(where: str, field: str) -> Problem:
    # The parser's own (English) message stays out: the detail is Polish.
    whole = "Treść żądania" if field == "(body)" else f"Pole {field}"
    return Problem(
        400,
        f"{whole} nie jest poprawnym JSON-em{where}.",
        code="malformed-json",
        errors=[{"field": field, "reason": "niepoprawny JSON" + where}],
    )
