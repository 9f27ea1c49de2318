"""JSON Schemas of auth's request bodies (checked by ebok_shared.http.validation.read_json)."""

from __future__ import annotations

from typing import Any

from ebok_shared.http.roles import ROLES

from .domain import OPERATOR_LOGIN_RE

CLIENT_NUMBER = {"type": "string", "pattern": r"^\d{6}$"}
OPERATOR_LOGIN = {"type": "string", "pattern": OPERATOR_LOGIN_RE.pattern}
EMAIL = {
    "type": "string",
    "format": "email",
    "maxLength": 254,
    "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
}
# Generous cap: the policy reports over-long passwords by name; this only bounds the body.
PASSWORD = {"type": "string", "minLength": 1, "maxLength": 1024}
LINK_TOKEN = {"type": "string", "minLength": 16, "maxLength": 200}
CODE = {"type": "string", "minLength": 6, "maxLength": 20}
REASON = {"type": "string", "minLength": 3, "maxLength": 500}


def _obj(required: list[str], **props: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": props,
    }


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
OPERATOR_LOGIN_BODY = _obj(
    ["login", "password", "totp_code"], login=OPERATOR_LOGIN, password=PASSWORD, totp_code=CODE
)
REFRESH = _obj(
    ["refresh_token"], refresh_token={"type": "string", "minLength": 16, "maxLength": 200}
)
PASSWORD_CHANGE = _obj(
    ["current_password", "new_password"], current_password=PASSWORD, new_password=PASSWORD
)
# Versions are numbered like the routes /regulations/{version} take them (up to 6 digits):
# a larger number is refused here rather than overflowing the database's integer.
ACCEPTANCE = _obj(["version"], version={"type": "integer", "minimum": 1, "maximum": 999_999})
EMAIL_CHANGE = _obj(["email"], email=EMAIL)
RESET_REQUEST = _obj(["login"], login=CLIENT_NUMBER)
RESET_CONFIRM = _obj(["token", "new_password"], token=LINK_TOKEN, new_password=PASSWORD)
EMAIL_CONFIRM = _obj(["token"], token=LINK_TOKEN)
TOTP_CONFIRM = _obj(["code"], code=CODE)
TOTP_REMOVAL = _obj(["current_password", "code"], current_password=PASSWORD, code=CODE)
DELETION = _obj(["current_password", "confirm"], current_password=PASSWORD, confirm={"const": True})
OPERATOR_ACTION = _obj(["reason"], reason=REASON)
OPERATOR_ROLES = {
    "type": "array",
    "minItems": 1,
    "maxItems": len(ROLES),
    "uniqueItems": True,
    "items": {"enum": list(ROLES)},
}
NEW_OPERATOR = _obj(
    ["login", "email", "roles"],
    login=OPERATOR_LOGIN,
    email=EMAIL,
    roles=OPERATOR_ROLES,
)
ROLES_CHANGE = _obj(["roles", "reason"], roles=OPERATOR_ROLES, reason=REASON)
REGULATIONS_BODY = {"type": "string", "minLength": 100, "maxLength": 200_000}
REGULATIONS_DRAFT = _obj(["body"], body=REGULATIONS_BODY)
NEW_REGULATIONS = _obj(
    ["body", "effective_from", "summary"],
    body=REGULATIONS_BODY,
    effective_from={"type": "string", "format": "date-time"},
    summary={"type": "string", "minLength": 3, "maxLength": 2000},
)
