"""The catalogue checks events on the hot paths with compiled validators; jsonschema has the
last word. Whatever the compiled check accepts, jsonschema must accept too: for every schema
of the shared and test catalogues, mutated examples get exactly jsonschema's verdict."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from ebok_shared.bus import Event, SchemaError
from ebok_shared.bus.catalogue import CATALOGUE_DIR
from ebok_shared.http.validation import FORMAT_CHECKER
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from tests.support.bus import CATALOGUE

pytest.importorskip("fastjsonschema")

ENVELOPE = Draft202012Validator(
    json.loads((CATALOGUE_DIR / "envelope.json").read_text("utf-8")),
    format_checker=FORMAT_CHECKER,
)
EXAMPLES = [
    (key, example)
    for key, schema in sorted(CATALOGUE.schemas.items())
    for example in schema.get("examples", [{"n": 1}])
]
# Values that sit on the edges of the formats and types the catalogue uses.
EDGES = [
    "2024-02-29",
    "2024-02-31",
    "2026-11-24T10:00:00+01:00",
    "yesterday",
    "6b760a5e-06f2-4609-bb96-ea6caa014535",
    "6B760A5E06F24609BB96EA6CAA014535",
    "a@b",
    "",
    "00-001",
    "1234567",
    "12.50",
    True,
    None,
    1.0,
    -1,
    {},
]
VALUES = st.one_of(
    st.sampled_from(EDGES), st.text(max_size=8), st.integers(), st.floats(allow_nan=False)
)


PAYLOADS = {
    key: Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
    for key, schema in CATALOGUE.schemas.items()
}


def _reference(data: Any) -> bool:
    """jsonschema alone: envelope, known type, payload."""
    if not ENVELOPE.is_valid(data):
        return False
    payload = PAYLOADS.get((data["type"], data["version"]))
    return payload is not None and payload.is_valid(data["payload"])


def _verdict(envelope: dict[str, Any]) -> bool:
    try:
        CATALOGUE.validate_dict(envelope)
    except SchemaError:
        return False
    return True


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


def _mutate(data: Any, draw: Any) -> Any:
    path = draw(st.sampled_from(_paths(data)[1:]))
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        parent[path[-1]] = draw(VALUES)
    elif action == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.sampled_from(["extra", "n", "type"]))] = draw(VALUES)
    return data


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_compiled_checks_never_change_a_verdict(data: st.DataObject) -> None:
    (event_type, version), example = data.draw(st.sampled_from(EXAMPLES))
    envelope = Event.new(event_type, copy.deepcopy(example), version=version).to_dict()
    for _ in range(data.draw(st.integers(0, 3))):
        envelope = _mutate(envelope, data.draw)
    assert _verdict(envelope) == _reference(envelope), envelope


def _edged(values: list[Any]) -> Iterator[tuple[dict[str, Any], tuple[Any, ...], Any]]:
    """Each example's envelope with one field set to one of ``values`` at a time (the
    envelope's own fields once, every payload's fields), the field put back after."""
    for number, ((event_type, version), example) in enumerate(EXAMPLES):
        envelope = Event.new(event_type, copy.deepcopy(example), version=version).to_dict()
        paths = [p for p in _paths(envelope)[1:] if number == 0 or p[0] == "payload"]
        for path in paths:
            parent = envelope
            for step in path[:-1]:
                parent = parent[step]
            kept = parent[path[-1]]
            for value in values:
                parent[path[-1]] = value
                yield envelope, path, value
            parent[path[-1]] = kept


def test_every_field_with_every_edge_value_gets_jsonschemas_verdict() -> None:
    for envelope, path, value in _edged(EDGES):
        assert _verdict(envelope) == _reference(envelope), (path, value)


def test_every_example_in_the_catalogue_is_valid() -> None:
    for (event_type, version), example in EXAMPLES:
        CATALOGUE.validate(Event.new(event_type, example, version=version))


def _parsed(body: bytes) -> Any:
    """What ``parse`` makes of ``body``: the event, or the refusal."""
    try:
        return CATALOGUE.parse(body)
    except SchemaError:
        return SchemaError


def _parsed_by_the_standard_library(body: bytes) -> Any:
    """The reading ``parse`` must keep: the standard library's json, then the schemas."""
    try:
        data = json.loads(body)
        CATALOGUE.validate_dict(data)
        return Event.from_dict(data)
    except (ValueError, SchemaError):
        return SchemaError


# Where orjson and the standard library read JSON differently (a big integer becomes a float,
# NaN, infinities and lone surrogates are refused), with the values on either side of them.
WIRE_EDGES = [
    2**63 - 1,
    2**63,
    2**64,
    -(2**63) - 1,
    10**30,
    float("nan"),
    float("inf"),
    "\ud800",
    "x\udfffy",
    1e308,
    0.1,
    -0.0,
    "zażółć",
]


def test_parse_reads_every_body_as_the_standard_library_does() -> None:
    """The consumer's reading of the wire is the standard library's, whichever parser runs:
    each payload field of each example set to each edge value, and the envelope's own."""
    for envelope, path, value in _edged(WIRE_EDGES):
        body = json.dumps(envelope).encode()  # NaN and big integers as Python writes them
        expected = _parsed_by_the_standard_library(body)
        got = _parsed(body)
        assert repr(got) == repr(expected), (path, value)
        if isinstance(expected, Event):
            assert got.payload == expected.payload or value != value, (path, value)
    assert _parsed(b"\xff") is SchemaError and _parsed(b"{") is SchemaError
