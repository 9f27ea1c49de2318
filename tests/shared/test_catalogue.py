"""The event catalogue: every schema is valid Draft 2020-12, well named, with valid examples."""

from __future__ import annotations

import copy
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from ebok_shared.bus.catalogue import CATALOGUE_DIR
from ebok_shared.http.validation import FORMAT_CHECKER
from jsonschema import Draft202012Validator

CATALOGUE = CATALOGUE_DIR
ENVELOPE = CATALOGUE / "envelope.json"
NAME_RE = re.compile(r"^(?P<type>[a-z_]+(?:\.[a-z_]+){2})\.v(?P<version>[1-9]\d*)\.json$")
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
EVENT_SCHEMAS = sorted(p for p in CATALOGUE.glob("*.json") if p != ENVELOPE)


def _load(path: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return schema


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    # the strict checker: it checks "date-time" too, which jsonschema alone skips
    return Draft202012Validator(schema, format_checker=FORMAT_CHECKER)


def test_the_catalogue_is_not_empty() -> None:
    assert ENVELOPE.is_file()
    assert EVENT_SCHEMAS
    assert sorted(CATALOGUE.iterdir()) == sorted([*EVENT_SCHEMAS, ENVELOPE])  # nothing else


@pytest.mark.parametrize("path", EVENT_SCHEMAS, ids=lambda p: p.name)
def test_schema_is_named_type_and_version(path: Path) -> None:
    match = NAME_RE.match(path.name)
    assert match, f"{path.name}: expected <producer>.<entity>.<fact>.v<N>.json"


@pytest.mark.parametrize("path", [*EVENT_SCHEMAS, ENVELOPE], ids=lambda p: p.name)
def test_schema_is_valid_draft_2020_12(path: Path) -> None:
    schema = _load(path)
    assert schema.get("$schema") == DRAFT_2020_12
    Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("path", EVENT_SCHEMAS, ids=lambda p: p.name)
def test_every_example_validates(path: Path) -> None:
    schema = _load(path)
    examples = schema.get("examples")
    assert isinstance(examples, list) and examples, f"{path.name} has no example"
    validator = _validator(schema)
    for example in examples:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(example)]
        assert errors == []


@pytest.mark.parametrize("path", EVENT_SCHEMAS, ids=lambda p: p.name)
def test_schema_rejects_a_broken_example(path: Path) -> None:
    """The examples pass because they are right, not because the schema accepts anything."""
    schema = _load(path)
    validator = _validator(schema)
    example = schema["examples"][0]
    for name in schema["required"]:
        broken = {k: v for k, v in example.items() if k != name}
        assert not validator.is_valid(broken), f"{path.name} accepts an example without {name}"
    assert not validator.is_valid({**example, "unexpected_field": 1})


@pytest.mark.parametrize("path", EVENT_SCHEMAS, ids=lambda p: p.name)
def test_examples_travel_in_a_valid_envelope(path: Path) -> None:
    match = NAME_RE.match(path.name)
    assert match
    envelope = _validator(_load(ENVELOPE))
    for example in _load(path)["examples"]:
        assert envelope.is_valid(_envelope(match["type"], int(match["version"]), example))


def _envelope(event_type: str, version: int, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "version": version,
        "occurred_at": "2026-01-05T10:15:00.123456+00:00",
        "producer": event_type.split(".", 1)[0],
        "correlation_id": "portal:abc-1",
        "payload": payload,
    }


GOOD = _envelope("billing.invoice.issued", 1, {"invoice_number": "10000126010001"})
ENVELOPE_FIELDS = list(GOOD)


@pytest.mark.parametrize("field", ENVELOPE_FIELDS)
def test_envelope_rejects_a_missing_field(field: str) -> None:
    broken = {k: v for k, v in GOOD.items() if k != field}
    errors = list(_validator(_load(ENVELOPE)).iter_errors(broken))
    assert [e.validator for e in errors] == ["required"]
    assert repr(field) in errors[0].message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "not-a-uuid"),
        ("id", "1234"),
        ("id", 42),
        ("type", "Billing.Invoice"),
        ("type", "invoice"),
        ("version", 0),
        ("version", "1"),
        ("occurred_at", "yesterday"),
        ("occurred_at", "2026-01-05"),
        ("producer", "Billing"),
        ("correlation_id", ""),
        ("correlation_id", "x" * 201),
        ("payload", []),
    ],
)
def test_envelope_rejects_a_bad_value(field: str, value: Any) -> None:
    broken = copy.deepcopy(GOOD)
    broken[field] = value
    errors = list(_validator(_load(ENVELOPE)).iter_errors(broken))
    assert [list(e.absolute_path) for e in errors] == [[field]]


def test_envelope_rejects_an_unknown_field() -> None:
    assert not _validator(_load(ENVELOPE)).is_valid({**GOOD, "retries": 1})


def test_envelope_accepts_a_good_one() -> None:
    assert _validator(_load(ENVELOPE)).is_valid(GOOD)
