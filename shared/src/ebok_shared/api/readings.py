"""readings' contract: meters, readings (with a photo), consumption, garden-meter requests,
and the operators' verification queues, reading windows and back-office feeds."""

from __future__ import annotations

from .types import (
    BOOLEAN,
    DATE,
    DATE_TIME,
    DEAD_LETTER_OPERATIONS,
    FEED_BATCH,
    FEED_FORMAT,
    FEED_MEDIA_TYPES,
    FILE,
    INTEGER,
    PAGE,
    STRING,
    UUID,
    Operation,
    Param,
    array,
    choice,
    closed,
    form_of,
    nullable,
    page_of,
    shape,
    text,
)

# -- request bodies ------------------------------------------------------------------------

READING_SCHEMA = closed(
    ["value", "read_on"], value=text(20), read_on=text(10), confirm_unusual={"type": "boolean"}
)
GARDEN_FIELDS = (
    "contract_number",
    "new_serial",
    "initial_value",
    "seal_number",
    "old_serial",
    "final_value",
)
GARDEN_KINDS = ("installation", "replacement", "removal")
GARDEN_SCHEMA = closed(
    ["kind", "done_on"],
    kind={"enum": list(GARDEN_KINDS)},
    done_on=text(10),
    **{name: text(40) for name in GARDEN_FIELDS},
)
# Which fields each kind of request takes (required; every other one is refused).
GARDEN_KIND_FIELDS = {
    "installation": ("new_serial", "initial_value", "seal_number"),
    "replacement": ("old_serial", "final_value", "new_serial", "initial_value", "seal_number"),
    "removal": ("old_serial", "final_value"),
}
PHOTO_FIELD = "photo"
_PHOTO = {**FILE, "description": "Zdjęcie wodomierza (JPEG lub PNG)."}
# The same fields as a form, with one photo (``http_bodies.read_form_or_json``).
READING_FORM = form_of(READING_SCHEMA, {PHOTO_FIELD: _PHOTO}, booleans=("confirm_unusual",))
GARDEN_FORM = form_of(GARDEN_SCHEMA, {PHOTO_FIELD: _PHOTO})

DECISION_SCHEMA = closed(["decision"], decision={"enum": ["accept", "reject"]}, reason=text(500))
MAX_WINDOWS = 100
WINDOWS_SCHEMA = closed(
    ["mode"],
    mode={"enum": ["always", "windows"]},
    windows={
        "type": "array",
        "maxItems": MAX_WINDOWS,
        "items": closed(
            ["opens_on", "closes_on"],
            opens_on={"type": "string", "format": "date"},
            closes_on={"type": "string", "format": "date"},
        ),
    },
)

# -- answers -------------------------------------------------------------------------------

M3 = {"type": "string", "pattern": r"^-?\d+\.\d{3}$"}
READING = shape(
    id=UUID,
    meter_serial=STRING,
    contract_number=nullable(STRING),
    value=M3,
    read_on=DATE,
    source=STRING,
    role=STRING,
    status=STRING,
    unusual=BOOLEAN,
    daily_consumption=nullable(M3),
    submitted_at=DATE_TIME,
    has_photo=BOOLEAN,
    decision_reason=nullable(STRING),
    decided_at=nullable(DATE_TIME),
)
READING_CREATED = {
    **READING,
    "required": [*READING["required"], "message"],
    "properties": {**READING["properties"], "message": STRING},
}
OPERATOR_READING = {
    **READING,
    "properties": {
        **READING["properties"],
        "client_number": nullable(STRING),
        "submitted_by": nullable(STRING),
        "decided_by": nullable(STRING),
        "leak_suspected": BOOLEAN,
        "photo_id": nullable(UUID),
    },
}
WINDOW = shape(
    open=BOOLEAN,
    always_open=BOOLEAN,
    closes_on=nullable(DATE),
    next_opens_on=nullable(DATE),
    next_closes_on=nullable(DATE),
)
WINDOWS = shape(
    mode={"enum": ["always", "windows"]},
    windows=array(shape(opens_on=DATE, closes_on=DATE)),
    today=WINDOW,
)
METER = shape(
    [
        "serial",
        "kind",
        "contract_number",
        "status",
        "installed_on",
        "removed_on",
        "last_reading",
    ],
    serial=STRING,
    kind={"enum": ["main", "garden"]},
    contract_number=nullable(STRING),
    status={"enum": ["installed", "removed"]},
    installed_on=DATE,
    initial_value=nullable(M3),
    removed_on=nullable(DATE),
    final_value=nullable(M3),
    seal_number=nullable(STRING),
    replaces=nullable(STRING),
    replaced_by=nullable(STRING),
    last_reading=nullable(shape(id=UUID, value=M3, read_on=DATE, source=STRING, status=STRING)),
    garden=shape(
        sealed_on=nullable(DATE),
        legalisation_expires_on=nullable(DATE),
        legalisation_expired=BOOLEAN,
        next_reading_dates=array(DATE),
    ),
)
_HISTORY = shape(["status", "at"], status=STRING, at=DATE_TIME, reason=nullable(STRING))
GARDEN_REQUEST = shape(
    id=UUID,
    kind={"enum": list(GARDEN_KINDS)},
    status={"enum": ["submitted", "accepted", "rejected"]},
    contract_number=nullable(STRING),
    done_on=DATE,
    new_serial=nullable(STRING),
    initial_value=nullable(M3),
    seal_number=nullable(STRING),
    old_serial=nullable(STRING),
    final_value=nullable(M3),
    has_photo=BOOLEAN,
    submitted_at=DATE_TIME,
    decided_at=nullable(DATE_TIME),
    reason=nullable(STRING),
    history=array(_HISTORY),
)
GARDEN_SUBMITTED = {
    **GARDEN_REQUEST,
    "required": [*GARDEN_REQUEST["required"], "message"],
    "properties": {**GARDEN_REQUEST["properties"], "message": STRING},
}
OPERATOR_GARDEN_REQUEST = {
    **GARDEN_REQUEST,
    "required": [*GARDEN_REQUEST["required"], "client_number"],
    "properties": {
        **GARDEN_REQUEST["properties"],
        "client_number": STRING,
        "submitted_by": nullable(STRING),
        "decided_by": nullable(STRING),
        "photo_id": nullable(UUID),
    },
}
CONSUMPTION = shape(
    ["from", "to", "contract_number", "unit", "months", "total_water_m3", "total_garden_m3"],
    **{"from": STRING, "to": STRING},
    contract_number=nullable(STRING),
    unit={"const": "m3"},
    months=array(shape(["month"], month=STRING, water_m3=M3, garden_m3=M3)),
    total_water_m3=M3,
    total_garden_m3=M3,
)
METER_HISTORY = {
    **METER,
    "required": [*METER["required"], "client_number", "readings", "garden_meter_requests"],
    "properties": {
        **METER["properties"],
        "client_number": nullable(STRING),
        "registered_by": nullable(STRING),
        "readings": array(OPERATOR_READING),
        "garden_meter_requests": array(OPERATOR_GARDEN_REQUEST),
        "reminders_sent": array(shape(kind=STRING, due_on=DATE, sent_at=DATE_TIME)),
    },
}
_MONTH = {"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$"}
_FEED = Operation(FEED_BATCH, raw_body=FEED_MEDIA_TYPES, query=(FEED_FORMAT,), also_ok=(200,))

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/me/meters"): Operation(shape(items=array(METER), reading_window=WINDOW)),
    ("GET", "/me/meters/{serial}/readings"): Operation(
        page_of(READING, meter_serial=STRING, since=DATE), query=PAGE, errors=(404,)
    ),
    ("POST", "/me/meters/{serial}/readings"): Operation(
        READING_CREATED, READING_SCHEMA, READING_FORM, errors=(404, 409)
    ),
    ("GET", "/me/consumption"): Operation(
        CONSUMPTION,
        query=(
            Param("from", _MONTH, "Pierwszy miesiąc (RRRR-MM); domyślnie 23 miesiące przed `to`."),
            Param("to", _MONTH, "Ostatni miesiąc (RRRR-MM); domyślnie bieżący."),
            Param(
                "contract_number",
                {"type": "string", "pattern": r"^[A-Z0-9/-]{3,40}$"},
                "Tylko wodomierze tej umowy.",
            ),
        ),
    ),
    ("GET", "/me/garden-meter-requests"): Operation(
        page_of(GARDEN_REQUEST),
        query=(
            choice(
                "status",
                ("submitted", "accepted", "rejected", "open"),
                "Tylko zgłoszenia o tym stanie (open: jeszcze nierozpatrzone).",
            ),
            *PAGE,
        ),
    ),
    ("POST", "/me/garden-meter-requests"): Operation(
        GARDEN_SUBMITTED, GARDEN_SCHEMA, GARDEN_FORM, errors=(404, 409)
    ),
    # operators
    ("GET", "/operator/readings"): Operation(
        page_of(OPERATOR_READING),
        query=(choice("status", ("to_verify",), "Odczyty do weryfikacji (jedyny stan)."), *PAGE),
    ),
    ("POST", "/operator/readings/{reading_id}/decision"): Operation(
        OPERATOR_READING, DECISION_SCHEMA, errors=(404, 409)
    ),
    ("GET", "/operator/garden-meter-requests"): Operation(
        page_of(OPERATOR_GARDEN_REQUEST),
        query=(
            choice("status", ("submitted", "accepted", "rejected"), "Stan (domyślnie submitted)."),
            Param(
                "client_number", {"type": "string", "pattern": r"^\d{6}$"}, "Tylko tego klienta."
            ),
            *PAGE,
        ),
    ),
    ("GET", "/operator/garden-meter-requests/{request_id}"): Operation(
        OPERATOR_GARDEN_REQUEST, errors=(404,)
    ),
    ("POST", "/operator/garden-meter-requests/{request_id}/decision"): Operation(
        OPERATOR_GARDEN_REQUEST, DECISION_SCHEMA, errors=(404, 409)
    ),
    ("GET", "/operator/meters/{serial}"): Operation(METER_HISTORY, errors=(404,)),
    ("GET", "/me/photos/{photo_id}"): Operation(errors=(404,)),
    ("GET", "/operator/photos/{photo_id}"): Operation(errors=(404,)),
    ("GET", "/operator/reading-windows"): Operation(WINDOWS),
    ("PUT", "/operator/reading-windows"): Operation(WINDOWS, WINDOWS_SCHEMA),
    ("POST", "/operator/feed/readings"): _FEED,
    ("POST", "/operator/feed/meters"): _FEED,
    ("GET", "/operator/queue-counts"): Operation(
        shape(readings_to_verify=INTEGER, garden_meter_requests=INTEGER)
    ),
    ("GET", "/operator/feed/batches"): Operation(page_of(FEED_BATCH), query=PAGE),
    ("GET", "/operator/feed/batches/{batch_id}"): Operation(FEED_BATCH, errors=(404,)),
    **DEAD_LETTER_OPERATIONS,
}
