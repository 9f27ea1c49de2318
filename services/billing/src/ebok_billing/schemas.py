"""The JSON Schemas of billing's request bodies (the gateway keeps copies for its OpenAPI
document; a test holds them equal)."""

from __future__ import annotations

from typing import Any

E_INVOICE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["email"],
    "additionalProperties": False,
    "properties": {
        "email": {"type": "string", "format": "email", "minLength": 3, "maxLength": 254}
    },
}
CONFIRM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["token"],
    "additionalProperties": False,
    "properties": {"token": {"type": "string", "pattern": "^[A-Za-z0-9_-]{32,64}$"}},
}

_MONEY = {"type": "string", "pattern": r"^\d{1,10}(\.\d{1,2})?$"}
_PRICE = {"type": "string", "pattern": r"^\d{1,6}(\.\d{1,4})?$"}
RATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["effective_from", "reference_rate_percent"],
    "additionalProperties": False,
    "properties": {
        "effective_from": {"type": "string", "format": "date"},
        "reference_rate_percent": {"type": "string", "pattern": r"^\d{1,2}(\.\d{1,3})?$"},
    },
}
EUR_RATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["rate_date", "eur_pln"],
    "additionalProperties": False,
    "properties": {
        "rate_date": {"type": "string", "format": "date"},
        "eur_pln": {"type": "string", "pattern": r"^\d{1,2}\.\d{4}$"},
        "table_number": {"type": "string", "pattern": r"^\d{3}/A/NBP/\d{4}$"},
    },
}
TARIFF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "tariff_group",
        "valid_from",
        "water_price",
        "sewage_price",
        "subscription_fee",
        "vat_rate",
    ],
    "additionalProperties": False,
    "properties": {
        "tariff_group": {"type": "string", "pattern": r"^[A-Za-z0-9/_.-]{1,20}$"},
        "valid_from": {"type": "string", "format": "date"},
        "water_price": _PRICE,
        "sewage_price": _PRICE,
        "subscription_fee": _MONEY,
        "vat_rate": {"type": "string", "pattern": r"^\d{1,2}(\.\d{1,2})?$"},
    },
}

_INVOICE_NUMBER = {"type": "string", "pattern": r"^\d{10,20}$"}
_NOTE_NUMBER = {"type": "string", "pattern": r"^NO/\d{10,20}/\d{2}$"}
PAYMENT_ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["scope"],
    "additionalProperties": False,
    "properties": {
        "scope": {"enum": ["balance", "documents"]},
        "invoice_numbers": {
            "type": "array",
            "items": _INVOICE_NUMBER,
            "maxItems": 50,
            "uniqueItems": True,
        },
        "note_numbers": {
            "type": "array",
            "items": _NOTE_NUMBER,
            "maxItems": 50,
            "uniqueItems": True,
        },
    },
}
