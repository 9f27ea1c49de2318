"""JSON Schema validation of request bodies: every broken field named, the reason in Polish."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import pytest
from aiohttp.test_utils import TestClient
from ebok_shared.http.problems import Problem
from ebok_shared.http.validation import FORMAT_CHECKER, validate
from jsonschema._format import is_uuid

from tests.support import infra
from tests.support.probe_service import PROBE_SCHEMA, running_probe

VALID = {"client_number": "100001", "amount": 5, "delivery": "paper"}


def _errors(data: Any, schema: dict[str, Any] = PROBE_SCHEMA) -> list[dict[str, str]]:
    with pytest.raises(Problem) as caught:
        validate(data, schema)
    problem = caught.value
    assert problem.status == 422 and problem.code == "validation"
    assert problem.errors is not None
    assert problem.detail == "Popraw wskazane pola: " + "; ".join(
        f"{e['field']}: {e['reason']}" for e in problem.errors
    )
    return problem.errors


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"client_number": None}, "client_number", "pole jest wymagane"),
        ({"amount": "5"}, "amount", "nieprawidłowy typ (oczekiwano: liczba całkowita)"),
        ({"amount": 2.5}, "amount", "nieprawidłowy typ (oczekiwano: liczba całkowita)"),
        # a boolean is no number to jsonschema: the compiled check must not let it through
        ({"amount": True}, "amount", "nieprawidłowy typ (oczekiwano: liczba całkowita)"),
        ({"amount": 0}, "amount", "wartość musi być co najmniej 1"),
        ({"client_number": "12345a"}, "client_number", "nieprawidłowy format"),
        ({"note": "x" * 11}, "note", "za długie (najwyżej 10 znaków)"),
        ({"delivery": "pigeon"}, "delivery", "dozwolone wartości: e-mail, paper"),
        ({"colour": "blue"}, "colour", "nieznane pole"),
        ({"email": "no-at-sign"}, "email", "nieprawidłowy format (adres e-mail)"),
        ({"sent_at": "yesterday"}, "sent_at", "nieprawidłowy format (data i czas ISO 8601)"),
        ({"sent_at": "2026-01-05 10:00"}, "sent_at", "nieprawidłowy format (data i czas ISO 8601)"),
        (
            {"sent_at": "2026-02-30T10:00:00Z"},
            "sent_at",
            "nieprawidłowy format (data i czas ISO 8601)",
        ),
    ],
)
def test_each_rule_has_its_polish_reason(change: dict[str, Any], field: str, reason: str) -> None:
    data = {**VALID, **change}
    data = {k: v for k, v in data.items() if v is not None}
    assert _errors(data) == [{"field": field, "reason": reason}]


def test_valid_body_passes() -> None:
    validate(
        {**VALID, "email": "jan@example.pl", "sent_at": "2026-01-05T10:00:00+01:00"}, PROBE_SCHEMA
    )
    validate({**VALID, "sent_at": "2026-01-05t10:00:00.123z"}, PROBE_SCHEMA)


def test_a_schema_built_per_call_or_not_compilable_is_held_to_the_same() -> None:
    """A schema is found by its object and, the first time, by its text: a copy made per
    call gets the same verdict, and a schema the compiled check cannot take (``$ref``) is
    checked by jsonschema alone, with the same reasons."""
    properties = cast(dict[str, Any], PROBE_SCHEMA["properties"])
    for _ in range(3):
        copy = {**PROBE_SCHEMA, "properties": dict(properties)}
        validate(VALID, copy)
        assert _errors({**VALID, "amount": 0}, copy) == [
            {"field": "amount", "reason": "wartość musi być co najmniej 1"}
        ]
    referring = {
        "$defs": {"amount": properties["amount"]},
        "type": "object",
        "properties": {"amount": {"$ref": "#/$defs/amount"}},
    }
    validate({"amount": 5}, referring)
    assert _errors({"amount": True}, referring) == [
        {"field": "amount", "reason": "nieprawidłowy typ (oczekiwano: liczba całkowita)"}
    ]


def test_every_broken_field_is_named() -> None:
    errors = _errors({"amount": "5", "colour": "blue", "size": 3, "note": "x" * 20})
    assert errors == [  # sorted by field
        {"field": "amount", "reason": "nieprawidłowy typ (oczekiwano: liczba całkowita)"},
        {"field": "client_number", "reason": "pole jest wymagane"},
        {"field": "colour", "reason": "nieznane pole"},
        {"field": "delivery", "reason": "pole jest wymagane"},
        {"field": "note", "reason": "za długie (najwyżej 10 znaków)"},
        {"field": "size", "reason": "nieznane pole"},
    ]


def test_nested_fields_are_named_by_path() -> None:
    schema = {
        "type": "object",
        "properties": {
            "address": {
                "type": "object",
                "required": ["city"],
                "additionalProperties": False,
                "properties": {"city": {"type": "string"}},
            },
            "meters": {"type": "array", "items": {"type": "string", "minLength": 3}},
        },
    }
    errors = _errors({"address": {"street": "Długa"}, "meters": ["ABC", "X"]}, schema)
    assert errors == [
        {"field": "address.city", "reason": "pole jest wymagane"},
        {"field": "address.street", "reason": "nieznane pole"},
        {"field": "meters.1", "reason": "za krótkie (co najmniej 3 znaki)"},
    ]


def test_a_body_of_the_wrong_type_is_named_as_the_body() -> None:
    assert _errors([VALID]) == [
        {"field": "(body)", "reason": "nieprawidłowy typ (oczekiwano: obiekt)"}
    ]


@pytest.mark.parametrize(
    ("length", "words"),
    [
        (1, "1 znak"),
        (2, "2 znaki"),
        (4, "4 znaki"),
        (5, "5 znaków"),
        (12, "12 znaków"),
        (22, "22 znaki"),
        (25, "25 znaków"),
        (112, "112 znaków"),
    ],
)
def test_character_counts_agree_in_polish(length: int, words: str) -> None:
    schema = {"type": "string", "minLength": length + 1, "maxLength": length}
    # a string can only break one of the two bounds at a time
    assert _errors("", {"type": "string", "minLength": length}) == [
        {"field": "(body)", "reason": f"za krótkie (co najmniej {words})"}
    ]
    assert _errors("x" * (length + 1), {**schema, "minLength": 0}) == [
        {"field": "(body)", "reason": f"za długie (najwyżej {words})"}
    ]


def test_enum_of_other_values_is_shown_as_json() -> None:
    schema = {"enum": [1, None, True, "tak"]}
    assert _errors("nie", schema) == [
        {"field": "(body)", "reason": "dozwolone wartości: 1, null, true, tak"}
    ]


@pytest.fixture(scope="module")
async def client(services: infra.Services) -> AsyncIterator[TestClient]:
    async with (
        infra.fresh_database(services.pg_admin_dsn) as database,
        running_probe(database, services.amqp_url, f"t{uuid.uuid4().hex[:10]}.") as client,
    ):
        yield client


async def test_over_http_the_422_names_fields_in_polish(client: TestClient) -> None:
    resp = await client.post(
        "/probe/validated",
        json={
            "client_number": "1234567",
            "amount": 1,
            "delivery": "kurier",
            "uwagi": "proszę dzwonić",
        },
    )
    assert resp.status == 422
    assert resp.content_type == "application/problem+json"
    body = await resp.json()
    assert body["errors"] == [
        {"field": "client_number", "reason": "nieprawidłowy format"},
        {"field": "delivery", "reason": "dozwolone wartości: e-mail, paper"},
        {"field": "uwagi", "reason": "nieznane pole"},
    ]
    ok = await client.post("/probe/validated", json=VALID)
    assert ok.status == 200 and await ok.json() == VALID


@pytest.mark.parametrize("text", ["a\x00b", "\ud800", "x\udfffy"])
def test_a_character_no_text_can_keep_is_refused_by_name(text: str) -> None:
    """Found by schemathesis: a NUL (or a lone surrogate, which JSON allows) in a field
    reached PostgreSQL, which cannot store it (a 500 instead of a refusal)."""
    assert _errors({**VALID, "note": text}) == [
        {"field": "note", "reason": "niedozwolony znak (np. NUL)"}
    ]
    nested = {"type": "object", "properties": {"a": {"type": "array"}}}
    assert _errors({"a": [{"b": text}]}, nested) == [
        {"field": "a.0.b", "reason": "niedozwolony znak (np. NUL)"}
    ]
    validate({**VALID, "note": "zażółć 😀"}, PROBE_SCHEMA)  # every real character is kept


@pytest.mark.parametrize(
    "instance",
    [
        "7d0f3a52-6c1e-4b7a-9a43-2f6e8b1c5d90",
        "7D0F3A52-6C1E-4B7A-9A43-2F6E8B1C5D90",
        "{7d0f3a52-6c1e-4b7a-9a43-2f6e8b1c5d90}",
        "urn:uuid:7d0f3a52-6c1e-4b7a-9a43-2f6e8b1c5d90",
        "7d0f3a526c1e4b7a9a432f6e8b1c5d90",
        "7d0f3a52-6c1e-4b7a-9a43-2f6e8b1c5d90\n",
        "7d0f3a52-6c1e-4b7a-9a43-2f6e8b1c5d90-",
        "7d0f3a52-6c1e-4b7a-9a43-2f6e8b1c5d9g",
        "７d0f3a52-6c1e-4b7a-9a43-2f6e8b1c5d90",  # a full-width digit: int() takes it
        "",
        5,
        None,
    ],
)
def test_the_uuid_format_keeps_jsonschemas_verdict(instance: object) -> None:
    """The canonical form's fast path accepts nothing jsonschema's own check refuses."""

    def verdict(check: Callable[[object], object]) -> bool:
        try:
            return bool(check(instance))
        except ValueError:
            return False

    ours = FORMAT_CHECKER.checkers["uuid"][0]
    assert verdict(ours) == verdict(is_uuid)
