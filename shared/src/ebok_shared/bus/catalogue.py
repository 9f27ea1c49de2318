"""The event catalogue: one JSON Schema file per event type and version.

Files are named ``<type>.v<version>.json`` (e.g. ``billing.invoice.issued.v1.json``)
and hold the schema of the payload; ``envelope.json`` holds the envelope's.
Every event is validated when published and when consumed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator

# Compiled checks (~10x faster on the publish and consume paths): the one compiler of
# ``validate``'s request bodies, so a schema means the same to both.
from ..http.validation import FORMAT_CHECKER  # date-time really checked
from ..http.validation import compile_schema as _compile
from .envelope import Event

CATALOGUE_DIR = Path(__file__).resolve().parent.parent / "catalogue"
_LONG_NUMBER = re.compile(rb"[0-9]{19}")
_NAME_RE = re.compile(r"^(?P<type>[a-z_]+(?:\.[a-z_]+)+)\.v(?P<version>\d+)\.json$")


class SchemaError(ValueError):
    """An event that its catalogue schema does not accept."""


class Catalogue:
    """Validation has one verdict, jsonschema's. Where a schema compiles, the compiled check
    runs first: what it accepts is accepted (same keywords, same meaning, jsonschema's own
    format checks), and what it refuses is checked again by jsonschema, whose verdict and
    message stand."""

    def __init__(self, folders: Iterable[Path] = (CATALOGUE_DIR,)) -> None:
        self._validators: dict[tuple[str, int], Draft202012Validator] = {}
        self._compiled: dict[tuple[str, int], Callable[[Any], Any] | None] = {}
        self.schemas: dict[tuple[str, int], dict[str, Any]] = {}
        for folder in folders:
            for path in sorted(folder.glob("*.json")):
                match = _NAME_RE.match(path.name)
                if not match:
                    continue
                key = (match["type"], int(match["version"]))
                schema = json.loads(path.read_text("utf-8"))
                Draft202012Validator.check_schema(schema)
                self.schemas[key] = schema
                self._validators[key] = Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
                self._compiled[key] = _compile(schema)
        envelope = json.loads((CATALOGUE_DIR / "envelope.json").read_text("utf-8"))
        self._envelope = Draft202012Validator(envelope, format_checker=FORMAT_CHECKER)
        self._compiled_envelope = _compile(envelope)

    def knows(self, event_type: str, version: int) -> bool:
        return (event_type, version) in self._validators

    def validate(self, event: Event) -> None:
        self.validate_dict(event.to_dict())

    def validate_dict(self, data: Any) -> None:
        if self._accepted_by_compiled(data):
            return
        errors = sorted(self._envelope.iter_errors(data), key=str)
        if errors:
            raise SchemaError(f"envelope: {_describe(errors[0])}")
        validator = self._validators.get((data["type"], data["version"]))
        if validator is None:
            raise SchemaError(f"unknown event type {data['type']} v{data['version']}")
        errors = sorted(validator.iter_errors(data["payload"]), key=str)
        if errors:
            raise SchemaError(f"{data['type']} v{data['version']}: {_describe(errors[0])}")

    def _accepted_by_compiled(self, data: Any) -> bool:
        if self._compiled_envelope is None:
            return False
        try:
            self._compiled_envelope(data)
            check = self._compiled.get((data["type"], data["version"]))
            if check is None:
                return False
            check(data["payload"])
        except Exception:  # any refusal or surprise: jsonschema decides
            return False
        return True

    def parse(self, body: bytes) -> Event:
        """Bytes off the wire → a validated Event; raises SchemaError on anything malformed."""
        # orjson: a quarter of the standard library's time on every consumer's path. Where
        # the two could differ the standard library reads it, as before: a run of 19 digits
        # may be an integer past 64 bits (orjson makes it a float), and what orjson refuses
        # (NaN, a lone surrogate escape) the standard library may take.
        try:
            data = json.loads(body) if _LONG_NUMBER.search(body) else orjson.loads(body)
        except orjson.JSONDecodeError:
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise SchemaError(f"not JSON: {exc}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise SchemaError(f"not JSON: {exc}") from None
        self.validate_dict(data)
        return Event.from_dict(data)


def _describe(error: Any) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"{where}: {error.message}"


@cache
def default_catalogue() -> Catalogue:
    return Catalogue()
