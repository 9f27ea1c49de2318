"""auth's contract: accounts, sessions, regulations, two-factor login, operators."""

from __future__ import annotations

from ebok_shared.http.roles import ROLES

from .types import (
    ANY_OBJECT,
    BOOLEAN,
    DATE_TIME,
    DEAD_LETTER_OPERATIONS,
    INTEGER,
    MESSAGE,
    STRING,
    STRINGS,
    Operation,
    Param,
    array,
    choice,
    closed,
    items_of,
    nullable,
    shape,
)

CLIENT_NUMBER = {"type": "string", "pattern": r"^\d{6}$"}
OPERATOR_LOGIN = {"type": "string", "pattern": r"^[a-z][a-z0-9._-]{2,39}$"}
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

# -- request bodies ------------------------------------------------------------------------

REGISTRATION = closed(
    ["client_number", "email", "invoice_number", "invoice_gross", "accepted_regulations_version"],
    client_number=CLIENT_NUMBER,
    email=EMAIL,
    invoice_number={"type": "string", "pattern": r"^\d{10,20}$"},
    invoice_gross={"type": "string", "pattern": r"^\s*-?\d{1,12}([.,]\d{1,2})?\s*$"},
    accepted_regulations_version={"type": "integer", "minimum": 1},
)
ACTIVATION = closed(["token"], token=LINK_TOKEN)
LOGIN = closed(["login", "password"], login=CLIENT_NUMBER, password=PASSWORD, totp_code=CODE)
OPERATOR_LOGIN_BODY = closed(
    ["login", "password", "totp_code"], login=OPERATOR_LOGIN, password=PASSWORD, totp_code=CODE
)
REFRESH = closed(
    ["refresh_token"], refresh_token={"type": "string", "minLength": 16, "maxLength": 200}
)
PASSWORD_CHANGE = closed(
    ["current_password", "new_password"], current_password=PASSWORD, new_password=PASSWORD
)
# Versions are numbered like the routes /regulations/{version} take them (up to 6 digits):
# a larger number is refused here rather than overflowing the database's integer.
ACCEPTANCE = closed(["version"], version={"type": "integer", "minimum": 1, "maximum": 999_999})
# Re-authentication (ASVS 3.7.1): the current password, and the TOTP code when it is on.
EMAIL_CHANGE = closed(
    ["email", "current_password"], email=EMAIL, current_password=PASSWORD, totp_code=CODE
)
RESET_REQUEST = closed(["login"], login=CLIENT_NUMBER)
RESET_CONFIRM = closed(["token", "new_password"], token=LINK_TOKEN, new_password=PASSWORD)
EMAIL_CONFIRM = closed(["token"], token=LINK_TOKEN)
TOTP_CONFIRM = closed(["code"], code=CODE)
TOTP_REMOVAL = closed(["current_password", "code"], current_password=PASSWORD, code=CODE)
DELETION = closed(
    ["current_password", "confirm"], current_password=PASSWORD, confirm={"const": True}
)
OPERATOR_ACTION = closed(["reason"], reason=REASON)
OPERATOR_ROLES = {
    "type": "array",
    "minItems": 1,
    "maxItems": len(ROLES),
    "uniqueItems": True,
    "items": {"enum": list(ROLES)},
}
NEW_OPERATOR = closed(
    ["login", "email", "roles"], login=OPERATOR_LOGIN, email=EMAIL, roles=OPERATOR_ROLES
)
ROLES_CHANGE = closed(["roles", "reason"], roles=OPERATOR_ROLES, reason=REASON)
REGULATIONS_BODY = {"type": "string", "minLength": 100, "maxLength": 200_000}
REGULATIONS_DRAFT = closed(["body"], body=REGULATIONS_BODY)
NEW_REGULATIONS = closed(
    ["body", "effective_from", "summary"],
    body=REGULATIONS_BODY,
    effective_from={"type": "string", "format": "date-time"},
    summary={"type": "string", "minLength": 3, "maxLength": 2000},
)

# -- answers -------------------------------------------------------------------------------

TOKENS = shape(
    access_token=STRING,
    token_type={"const": "Bearer"},
    refresh_token=STRING,
    expires_in=INTEGER,
    password_change_required=BOOLEAN,
    restrictions=array({"enum": ["password_change", "regulations"]}),
)
_REGULATIONS_HEADER = {
    "version": INTEGER,
    "effective_from": DATE_TIME,
    "published_at": DATE_TIME,
    "summary": STRING,
}
REGULATIONS = shape(**_REGULATIONS_HEADER, body=STRING)
REGULATIONS_CURRENT = shape(
    **_REGULATIONS_HEADER, body=STRING, upcoming=nullable(shape(**_REGULATIONS_HEADER))
)
REGULATIONS_CHANGES = shape(
    version=INTEGER, previous_version=nullable(INTEGER), changes=array(ANY_OBJECT)
)
ACTIVATED = shape(
    login=CLIENT_NUMBER,
    initial_password=STRING,
    initial_password_expires_at=DATE_TIME,
    message=STRING,
)
ME = shape(
    client_number=CLIENT_NUMBER,
    email=STRING,
    status=STRING,
    created_at=DATE_TIME,
    activated_at=nullable(DATE_TIME),
    password_changed_at=nullable(DATE_TIME),
    totp_enabled=BOOLEAN,
    regulations=shape(accepted_version=nullable(INTEGER), current_version=INTEGER),
)
ACCEPTED = shape(version=INTEGER, accepted_at=DATE_TIME)
EMAIL_CHANGE_SENT = shape(message=STRING, expires_at=DATE_TIME)
EMAIL_CHANGED = shape(message=STRING, email=STRING)
TOTP_STARTED = shape(secret=STRING, otpauth_uri=STRING)
TOTP_ENABLED = shape(recovery_codes=STRINGS, message=STRING)
_KEPT = shape(data=STRING, until=STRING, legal_basis=STRING)
DELETION_TERMS = shape(["deleted_now", "kept"], deleted_now=STRINGS, kept=array(_KEPT), note=STRING)
DELETED = shape(
    ["message", "deleted_now", "kept"], message=STRING, deleted_now=STRINGS, kept=array(_KEPT)
)
ACCOUNT = shape(
    client_number=CLIENT_NUMBER,
    email=nullable(STRING),
    status=STRING,
    created_at=DATE_TIME,
    activated_at=nullable(DATE_TIME),
    last_login_at=nullable(DATE_TIME),
    blocked_reason=nullable(STRING),
    blocked_by=nullable(STRING),
    blocked_at=nullable(DATE_TIME),
    totp_enabled=BOOLEAN,
)
ACCOUNTS = shape(items=array(ACCOUNT), total=INTEGER, limit=INTEGER, offset=INTEGER)
ACCOUNT_STATUS = shape(client_number=CLIENT_NUMBER, status=STRING)
ACCOUNT_DELETED = shape(client_number=CLIENT_NUMBER, deleted={"const": True})
AUDIT = shape(
    items=array(
        shape(["id", "type", "occurred_at"], id=INTEGER, type=STRING, occurred_at=DATE_TIME)
    ),
    next_before_id=nullable(INTEGER),
)
OPERATOR = shape(["login", "roles"], login=STRING, roles=STRINGS, created_at=DATE_TIME)
OPERATOR_CREATED = shape(
    login=STRING,
    roles=STRINGS,
    initial_password=nullable(STRING),
    totp_secret=STRING,
    otpauth_uri=STRING,
)
TOTP_RESET = shape(login=STRING, totp_secret=STRING, otpauth_uri=STRING)
PUBLISHED = shape(**_REGULATIONS_HEADER, changed_clauses=STRINGS)

_TIME = {"type": "string", "format": "date-time"}

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/regulations/current"): Operation(REGULATIONS_CURRENT),
    ("GET", "/regulations/{version}"): Operation(REGULATIONS, errors=(404,)),
    ("GET", "/regulations/{version}/changes"): Operation(REGULATIONS_CHANGES, errors=(404,)),
    ("POST", "/registrations"): Operation(MESSAGE, REGISTRATION),
    ("POST", "/activations"): Operation(ACTIVATED, ACTIVATION, errors=(410,)),
    ("POST", "/sessions"): Operation(TOKENS, LOGIN, errors=(401, 403, 423)),
    ("POST", "/sessions/refresh"): Operation(TOKENS, REFRESH, errors=(401,)),
    ("DELETE", "/sessions/current"): Operation(),
    ("POST", "/password-resets"): Operation(MESSAGE, RESET_REQUEST),
    ("POST", "/password-resets/confirm"): Operation(MESSAGE, RESET_CONFIRM, errors=(410,)),
    ("POST", "/email-changes/confirm"): Operation(EMAIL_CHANGED, EMAIL_CONFIRM, errors=(409, 410)),
    ("GET", "/me"): Operation(ME),
    ("PUT", "/me/password"): Operation(TOKENS, PASSWORD_CHANGE),
    ("POST", "/me/regulations/acceptances"): Operation(ACCEPTED, ACCEPTANCE),
    ("POST", "/me/email-change"): Operation(EMAIL_CHANGE_SENT, EMAIL_CHANGE, errors=(409,)),
    ("POST", "/me/totp"): Operation(TOTP_STARTED, errors=(409,)),
    ("POST", "/me/totp/activation"): Operation(TOTP_ENABLED, TOTP_CONFIRM, errors=(409,)),
    ("POST", "/me/totp/removal"): Operation(None, TOTP_REMOVAL, errors=(409,)),
    ("GET", "/me/deletion"): Operation(DELETION_TERMS),
    ("DELETE", "/me"): Operation(DELETED, DELETION),
    # operators
    ("POST", "/operator/sessions"): Operation(TOKENS, OPERATOR_LOGIN_BODY, errors=(401, 403, 423)),
    ("GET", "/operator/accounts"): Operation(
        ACCOUNTS,
        query=(
            Param(
                "q",
                {"type": "string", "maxLength": 100},
                "Początek numeru klienta lub fragment adresu e-mail.",
            ),
            choice("status", ("pending", "active", "blocked"), "Tylko konta o tym stanie."),
            Param(
                "limit", {"type": "integer", "minimum": 1, "maximum": 100}, "Najwyżej tyle kont."
            ),
            Param(
                "offset",
                {"type": "integer", "minimum": 0, "maximum": 1_000_000},
                "Pominięte konta.",
            ),
        ),
    ),
    ("GET", "/operator/accounts/{client_number}"): Operation(ACCOUNT, errors=(404,)),
    ("GET", "/operator/deletion-terms"): Operation(DELETION_TERMS),
    ("POST", "/operator/accounts/{client_number}/block"): Operation(
        ACCOUNT_STATUS, OPERATOR_ACTION, errors=(404, 409)
    ),
    ("POST", "/operator/accounts/{client_number}/unblock"): Operation(
        ACCOUNT_STATUS, OPERATOR_ACTION, errors=(404, 409)
    ),
    ("POST", "/operator/accounts/{client_number}/deletion"): Operation(
        ACCOUNT_DELETED, OPERATOR_ACTION, errors=(404, 409)
    ),
    ("GET", "/operator/audit"): Operation(
        AUDIT,
        query=(
            Param(
                "limit", {"type": "integer", "minimum": 1, "maximum": 100}, "Najwyżej tyle wpisów."
            ),
            Param(
                "before_id",
                {"type": "integer", "minimum": 1},
                "Wpisy starsze niż ten (następna strona).",
            ),
            Param(
                "subject",
                {"type": "string", "maxLength": 100},
                "Czego dotyczy wpis (np. numer klienta).",
            ),
            Param("type", {"type": "string", "maxLength": 100}, "Rodzaj zdarzenia."),
            Param(
                "actor", {"type": "string", "maxLength": 100}, "Kto wykonał (np. operator:login)."
            ),
            Param("since", _TIME, "Od (ISO 8601 ze strefą)."),
            Param("until", _TIME, "Do (ISO 8601 ze strefą)."),
        ),
    ),
    ("GET", "/operator/operators"): Operation(items_of(OPERATOR)),
    ("POST", "/operator/operators"): Operation(OPERATOR_CREATED, NEW_OPERATOR, errors=(409,)),
    ("GET", "/operator/operators/{login}"): Operation(OPERATOR, errors=(404,)),
    ("PUT", "/operator/operators/{login}/roles"): Operation(
        OPERATOR, ROLES_CHANGE, errors=(404, 409)
    ),
    ("POST", "/operator/operators/{login}/deactivation"): Operation(
        OPERATOR, OPERATOR_ACTION, errors=(404, 409)
    ),
    ("POST", "/operator/operators/{login}/totp-reset"): Operation(
        TOTP_RESET, OPERATOR_ACTION, errors=(404,)
    ),
    ("POST", "/operator/regulations"): Operation(PUBLISHED, NEW_REGULATIONS),
    ("POST", "/operator/regulations/preview"): Operation(
        shape(
            based_on_version=nullable(INTEGER),
            changes=array(ANY_OBJECT),
            earliest_effective_from=DATE_TIME,
            notice_days=INTEGER,
        ),
        REGULATIONS_DRAFT,
    ),
    **DEAD_LETTER_OPERATIONS,
}
