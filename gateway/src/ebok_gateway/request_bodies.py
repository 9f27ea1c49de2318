"""The JSON bodies the public routes take, as the owning services validate them, for the
OpenAPI document (``openapi.py``).

The gateway does not import the services (each is its own package, in its own container),
so these are copies; ``tests/gateway/test_openapi_document.py`` keeps each equal to the
service's own schema. A POST or PUT route not named here is documented as "a JSON object".
"""

from __future__ import annotations

from typing import Any

from .portal import MODES

CLIENT_NUMBER = {"type": "string", "pattern": r"^\d{6}$"}
EMAIL = {
    "type": "string",
    "format": "email",
    "maxLength": 254,
    "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
}
PASSWORD = {"type": "string", "minLength": 1, "maxLength": 1024}
LINK_TOKEN = {"type": "string", "minLength": 16, "maxLength": 200}
CODE = {"type": "string", "minLength": 6, "maxLength": 20}


_INVOICE_NUMBER = {"type": "string", "pattern": r"^\d{10,20}$"}
_NOTE_NUMBER = {"type": "string", "pattern": r"^NO/\d{10,20}/\d{2}$"}
PAYMENT_ORDER: dict[str, Any] = {
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


def _obj(required: list[str], **props: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": props,
    }


def _text(max_length: int) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_length}


# auth (ebok_auth.schemas)
REGISTRATION = _obj(
    ["client_number", "email", "invoice_number", "invoice_gross", "accepted_regulations_version"],
    client_number=CLIENT_NUMBER,
    email=EMAIL,
    invoice_number={"type": "string", "pattern": r"^\d{10,20}$"},
    invoice_gross={"type": "string", "pattern": r"^\s*-?\d{1,12}([.,]\d{1,2})?\s*$"},
    accepted_regulations_version={"type": "integer", "minimum": 1},
)
ACTIVATION = _obj(["token"], token=LINK_TOKEN)
LOGIN = _obj(["login", "password"], login=CLIENT_NUMBER, password=PASSWORD, totp_code=CODE)
OPERATOR_LOGIN = _obj(
    ["login", "password", "totp_code"],
    login={"type": "string", "pattern": r"^[a-z][a-z0-9._-]{2,39}$"},
    password=PASSWORD,
    totp_code=CODE,
)
REFRESH = _obj(
    ["refresh_token"], refresh_token={"type": "string", "minLength": 16, "maxLength": 200}
)
RESET_REQUEST = _obj(["login"], login=CLIENT_NUMBER)
RESET_CONFIRM = _obj(["token", "new_password"], token=LINK_TOKEN, new_password=PASSWORD)
EMAIL_CONFIRM = _obj(["token"], token=LINK_TOKEN)
PASSWORD_CHANGE = _obj(
    ["current_password", "new_password"], current_password=PASSWORD, new_password=PASSWORD
)
ACCEPTANCE = _obj(["version"], version={"type": "integer", "minimum": 1, "maximum": 999_999})
EMAIL_CHANGE = _obj(["email"], email=EMAIL)
TOTP_CONFIRM = _obj(["code"], code=CODE)
TOTP_REMOVAL = _obj(["current_password", "code"], current_password=PASSWORD, code=CODE)
DELETION = _obj(["current_password", "confirm"], current_password=PASSWORD, confirm={"const": True})

# billing (ebok_billing.schemas)
E_INVOICE = _obj(
    ["email"], email={"type": "string", "format": "email", "minLength": 3, "maxLength": 254}
)
E_INVOICE_CONFIRMATION = _obj(
    ["token"], token={"type": "string", "pattern": "^[A-Za-z0-9_-]{32,64}$"}
)

# readings (ebok_readings.schemas): also accepted as multipart/form-data with a photo
READING = _obj(
    ["value", "read_on"],
    value=_text(20),
    read_on=_text(10),
    confirm_unusual={"type": "boolean"},
)
_GARDEN_FIELDS = (
    "contract_number",
    "new_serial",
    "initial_value",
    "seal_number",
    "old_serial",
    "final_value",
)
GARDEN_REQUEST = _obj(
    ["kind", "done_on"],
    kind={"enum": ["installation", "replacement", "removal"]},
    done_on=_text(10),
    **{name: _text(40) for name in _GARDEN_FIELDS},
)

# correspondence (ebok_correspondence.documents.KIND_SCHEMA): each kind then has its own
# fields (see the service's README); also accepted as multipart/form-data with attachments
DOCUMENT = {
    "type": "object",
    "required": ["kind"],
    "properties": {
        "kind": {
            "enum": [
                "failure_report",
                "water_quality_complaint",
                "data_change",
                "reklamacja",
                "letter",
            ]
        }
    },
}

# the gateway's own operator routes (http_operator.py validates with these very schemas)
PORTAL_SECTION = {
    "type": "object",
    "required": ["mode"],
    "additionalProperties": False,
    "properties": {
        "mode": {"enum": list(MODES)},
        "message": {"type": ["string", "null"], "maxLength": 500},
    },
}
PORTAL_ITEM = {
    "type": "object",
    "required": ["hidden"],
    "additionalProperties": False,
    "properties": {"hidden": {"type": "boolean"}},
}

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/registrations"): REGISTRATION,
    ("POST", "/activations"): ACTIVATION,
    ("POST", "/sessions"): LOGIN,
    ("POST", "/sessions/refresh"): REFRESH,
    ("POST", "/operator/sessions"): OPERATOR_LOGIN,
    ("POST", "/password-resets"): RESET_REQUEST,
    ("POST", "/password-resets/confirm"): RESET_CONFIRM,
    ("POST", "/email-changes/confirm"): EMAIL_CONFIRM,
    ("POST", "/e-invoice/confirmations"): E_INVOICE_CONFIRMATION,
    ("PUT", "/me/password"): PASSWORD_CHANGE,
    ("POST", "/me/regulations/acceptances"): ACCEPTANCE,
    ("POST", "/me/email-change"): EMAIL_CHANGE,
    ("DELETE", "/me"): DELETION,
    ("POST", "/me/totp/activation"): TOTP_CONFIRM,
    ("POST", "/me/totp/removal"): TOTP_REMOVAL,
    ("POST", "/me/meters/{serial}/readings"): READING,
    ("POST", "/me/garden-meter-requests"): GARDEN_REQUEST,
    ("PUT", "/me/e-invoice"): E_INVOICE,
    ("POST", "/me/payment-orders"): PAYMENT_ORDER,
    ("POST", "/me/correspondence"): DOCUMENT,
    ("PUT", "/operator/portal-settings/sections/{section}"): PORTAL_SECTION,
    ("PUT", "/operator/portal-settings/sections/{section}/items/{item_id}"): PORTAL_ITEM,
}
