"""notifier's contract: the operators' delivery log (with re-sending) and campaigns."""

from __future__ import annotations

from .types import (
    BOOLEAN,
    DATE_TIME,
    DEAD_LETTER_OPERATIONS,
    INTEGER,
    NUMBER,
    STRING,
    Operation,
    Param,
    array,
    choice,
    items_of,
    nullable,
    shape,
)

DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "cancelled")
MAX_LIMIT = 500

DELIVERY = shape(
    ["id", "kind", "recipient", "status", "attempts", "created_at"],
    id=INTEGER,
    event_id=STRING,
    kind=STRING,
    recipient=nullable(STRING),  # null once the account is erased (GDPR art. 17)
    client_number=nullable(STRING),
    campaign_id=nullable(INTEGER),
    message_id=nullable(STRING),
    status={"enum": list(DELIVERY_STATUSES)},
    attempts=INTEGER,
    last_answer=nullable(STRING),
    next_attempt_at=nullable(DATE_TIME),
    queued_at=nullable(DATE_TIME),
    sent_at=nullable(DATE_TIME),
    created_at=DATE_TIME,
    updated_at=nullable(DATE_TIME),
)
_CAMPAIGN = {
    "id": INTEGER,
    "event_id": STRING,
    "kind": STRING,
    "status": STRING,
    "total": INTEGER,
    "materialised": INTEGER,
    "created_at": DATE_TIME,
}
CAMPAIGN = shape(**_CAMPAIGN)
CAMPAIGN_PROGRESS = shape(
    **_CAMPAIGN,
    rate=NUMBER,
    starts_at=DATE_TIME,
    materialised_at=nullable(DATE_TIME),
    sent=INTEGER,
    failed=INTEGER,
    cancelled=INTEGER,
    waiting=INTEGER,
    done=BOOLEAN,
)
_LIMIT = Param(
    "limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, "Najwyżej tyle pozycji."
)

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/operator/deliveries"): Operation(
        {**items_of(DELIVERY), "properties": {"items": array(DELIVERY), "next_before_id": INTEGER}},
        query=(
            choice("status", DELIVERY_STATUSES, "Tylko wiadomości o tym stanie."),
            _LIMIT,
            Param(
                "before_id", {"type": "integer", "minimum": 1}, "Starsze niż ta (następna strona)."
            ),
        ),
    ),
    ("GET", "/operator/deliveries/{id}"): Operation(DELIVERY, errors=(404,)),
    ("POST", "/operator/deliveries/{id}/resend"): Operation(DELIVERY, errors=(404, 409)),
    ("GET", "/operator/campaigns"): Operation(items_of(CAMPAIGN), query=(_LIMIT,)),
    ("GET", "/operator/campaigns/{id}"): Operation(CAMPAIGN_PROGRESS, errors=(404,)),
    **DEAD_LETTER_OPERATIONS,
}
