"""Events auth publishes (validated against the catalogue on the way into the outbox) and
the billing events it consumes (see projection.py).

Every publish goes through ``publish`` inside the caller's business transaction, keyed by the
client number so one account's events reach consumers in order.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from ebok_shared.bus import Outbox

REGISTERED = "auth.account.registered"
ACTIVATED = "auth.account.activated"
LOCKED = "auth.account.locked"
BLOCKED = "auth.account.blocked"
UNBLOCKED = "auth.account.unblocked"
BLOCK_SCHEDULED = "auth.account.block_scheduled"
DELETED = "auth.account.deleted"
PASSWORD_RESET_REQUESTED = "auth.password_reset.requested"
EMAIL_CHANGE_REQUESTED = "auth.email_change.requested"
EMAIL_CHANGED = "auth.email.changed"
REGULATIONS_PUBLISHED = "auth.regulations.published"
SESSIONS_ENDED = "auth.sessions.ended"

PUBLISHED = (
    REGISTERED,
    ACTIVATED,
    LOCKED,
    BLOCKED,
    UNBLOCKED,
    BLOCK_SCHEDULED,
    DELETED,
    PASSWORD_RESET_REQUESTED,
    EMAIL_CHANGE_REQUESTED,
    EMAIL_CHANGED,
    REGULATIONS_PUBLISHED,
    SESSIONS_ENDED,
)

_outbox = Outbox()


async def publish(
    conn: asyncpg.Connection, event_type: str, payload: dict[str, Any], *, key: str
) -> None:
    await _outbox.add(conn, event_type, payload, aggregate_key=f"auth:{key}")
