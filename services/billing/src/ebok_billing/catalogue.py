"""The event catalogue with compiled validators, for publishing in bulk.

The schemas are the shared catalogue's files, unchanged; only the checking is faster:
each schema is compiled once (fastjsonschema) and a payload it accepts is accepted. One it
refuses is checked again by the shared catalogue (jsonschema), whose verdict and message
stand, so billing can never refuse an event the catalogue accepts. A back-office batch
raises hundreds of thousands of events; this keeps checking them a small part of the cost.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

import fastjsonschema
from ebok_shared.bus import Catalogue
from ebok_shared.bus.catalogue import CATALOGUE_DIR


class CompiledCatalogue(Catalogue):
    def __init__(self) -> None:
        super().__init__()
        self._compiled: dict[tuple[str, int], Callable[[Any], Any]] = {
            key: fastjsonschema.compile(schema) for key, schema in self.schemas.items()
        }
        self._compiled_envelope = fastjsonschema.compile(
            json.loads((CATALOGUE_DIR / "envelope.json").read_text("utf-8"))
        )

    def validate_dict(self, data: Any) -> None:
        try:
            self._compiled_envelope(data)
            self._compiled[(data["type"], data["version"])](data["payload"])
        except (fastjsonschema.JsonSchemaException, KeyError, TypeError):
            super().validate_dict(data)  # the authoritative verdict, with its message


@cache
def compiled_catalogue() -> CompiledCatalogue:
    return CompiledCatalogue()
