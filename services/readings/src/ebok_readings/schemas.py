"""JSON Schemas of readings' request bodies (a form with a photo is checked against the
same schema as the JSON body)."""

from __future__ import annotations

from typing import Any

READING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["value", "read_on"],
    "additionalProperties": False,
    "properties": {
        "value": {"type": "string", "minLength": 1, "maxLength": 20},
        "read_on": {"type": "string", "minLength": 1, "maxLength": 10},
        "confirm_unusual": {"type": "boolean"},
    },
}

GARDEN_FIELDS = (
    "contract_number",
    "new_serial",
    "initial_value",
    "seal_number",
    "old_serial",
    "final_value",
)
GARDEN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["kind", "done_on"],
    "additionalProperties": False,
    "properties": {
        "kind": {"enum": ["installation", "replacement", "removal"]},
        "done_on": {"type": "string", "minLength": 1, "maxLength": 10},
        **{name: {"type": "string", "minLength": 1, "maxLength": 40} for name in GARDEN_FIELDS},
    },
}
# Which fields each kind of request takes (required; every other one is refused).
GARDEN_KIND_FIELDS = {
    "installation": ("new_serial", "initial_value", "seal_number"),
    "replacement": ("old_serial", "final_value", "new_serial", "initial_value", "seal_number"),
    "removal": ("old_serial", "final_value"),
}

DECISION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["decision"],
    "additionalProperties": False,
    "properties": {
        "decision": {"enum": ["accept", "reject"]},
        "reason": {"type": "string", "minLength": 1, "maxLength": 500},
    },
}

MAX_WINDOWS = 100
WINDOWS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["mode"],
    "additionalProperties": False,
    "properties": {
        "mode": {"enum": ["always", "windows"]},
        "windows": {
            "type": "array",
            "maxItems": MAX_WINDOWS,
            "items": {
                "type": "object",
                "required": ["opens_on", "closes_on"],
                "additionalProperties": False,
                "properties": {
                    "opens_on": {"type": "string", "format": "date"},
                    "closes_on": {"type": "string", "format": "date"},
                },
            },
        },
    },
}
