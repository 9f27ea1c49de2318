"""Events auth publishes (built here from typed values, validated against the catalogue on
the way into the outbox) and the billing events it consumes (its projection).

Every publish goes into the outbox inside the caller's business transaction, keyed by the
client number so one account's events reach consumers in order.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import Any

import asyncpg
from ebok_shared.bus import Outbox, Subscription

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
PASSWORD_CHANGED = "auth.password.changed"
OPERATOR_PASSWORD_CHANGED = "auth.operator.password_changed"
TOTP_CHANGED = "auth.totp.changed"
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
    PASSWORD_CHANGED,
    OPERATOR_PASSWORD_CHANGED,
    TOTP_CHANGED,
    REGULATIONS_PUBLISHED,
    SESSIONS_ENDED,
)

ACCESS_REFUSED = "security.access.refused"
CLIENT_UPSERTED = "billing.client.upserted"
CONTRACT_CONCLUDED = "billing.contract.concluded"
CONTRACT_TERMINATED = "billing.contract.terminated"
INVOICE_ISSUED = "billing.invoice.issued"


def subscriptions(grace_days: int) -> list[Subscription]:
    """What auth consumes, one line each; ``grace_days`` is the contract-end block's delay."""
    # Imported here: the use cases publish through this module.
    from .use_cases import audit, projection

    terminated = functools.partial(projection.contract_terminated, grace_days=grace_days)
    return [
        Subscription(CLIENT_UPSERTED, projection.client_upserted),
        Subscription(CONTRACT_CONCLUDED, projection.contract_concluded),
        Subscription(CONTRACT_TERMINATED, terminated),
        Subscription(INVOICE_ISSUED, projection.invoice_issued),
        # every service's refused access, into the one security audit log
        Subscription(ACCESS_REFUSED, audit.access_refused),
    ]


_outbox = Outbox()


async def _publish(
    conn: asyncpg.Connection, event_type: str, payload: dict[str, Any], *, key: str
) -> None:
    await _outbox.add(conn, event_type, payload, aggregate_key=f"auth:{key}")


# -- builders: one per event, from typed values ------------------------------------------------


async def registered(
    conn: asyncpg.Connection,
    client: str,
    email: str,
    token: str,
    expires: dt.datetime,
    email_of_record: str | None = None,
) -> None:
    """``email_of_record``: billing's address for the client when it is another one than the
    form's (the notifier tells it an account was registered)."""
    payload = {
        "client_number": client,
        "email": email,
        "activation_token": token,
        "expires_at": expires.isoformat(),
        "email_of_record": email_of_record,
    }
    await _publish(conn, REGISTERED, payload, key=client)


async def activated(conn: asyncpg.Connection, client: str, email: str) -> None:
    await _publish(conn, ACTIVATED, {"client_number": client, "email": email}, key=client)


async def locked(conn: asyncpg.Connection, client: str, email: str, until: dt.datetime) -> None:
    payload = {"client_number": client, "email": email, "until": until.isoformat()}
    await _publish(conn, LOCKED, payload, key=client)


async def blocked(conn: asyncpg.Connection, client: str, email: str, reason: str, by: str) -> None:
    payload = {"client_number": client, "email": email, "reason": reason, "by": by}
    await _publish(conn, BLOCKED, payload, key=client)


async def unblocked(
    conn: asyncpg.Connection, client: str, email: str, reason: str, by: str
) -> None:
    payload = {"client_number": client, "email": email, "reason": reason, "by": by}
    await _publish(conn, UNBLOCKED, payload, key=client)


async def block_scheduled(
    conn: asyncpg.Connection, client: str, email: str, block_on: dt.date
) -> None:
    payload = {"client_number": client, "email": email, "block_on": block_on.isoformat()}
    await _publish(conn, BLOCK_SCHEDULED, payload, key=client)


async def deleted(conn: asyncpg.Connection, client: str) -> None:
    await _publish(conn, DELETED, {"client_number": client}, key=client)


async def password_reset_requested(
    conn: asyncpg.Connection, client: str, email: str, token: str, expires: dt.datetime
) -> None:
    payload = {
        "client_number": client,
        "email": email,
        "token": token,
        "expires_at": expires.isoformat(),
    }
    await _publish(conn, PASSWORD_RESET_REQUESTED, payload, key=client)


async def email_change_requested(
    conn: asyncpg.Connection, client: str, new_email: str, token: str, expires: dt.datetime
) -> None:
    payload = {
        "client_number": client,
        "new_email": new_email,
        "token": token,
        "expires_at": expires.isoformat(),
    }
    await _publish(conn, EMAIL_CHANGE_REQUESTED, payload, key=client)


async def email_changed(conn: asyncpg.Connection, client: str, email: str, previous: str) -> None:
    payload = {"client_number": client, "email": email, "previous_email": previous}
    await _publish(conn, EMAIL_CHANGED, payload, key=client)


async def password_changed(
    conn: asyncpg.Connection, client: str, email: str, how: str, at: dt.datetime
) -> None:
    """``how``: "changed" (signed in) or "reset" (by a link). The notice names no secret."""
    payload = {"client_number": client, "email": email, "how": how, "changed_at": at.isoformat()}
    await _publish(conn, PASSWORD_CHANGED, payload, key=client)


async def operator_password_changed(
    conn: asyncpg.Connection, login: str, email: str, at: dt.datetime
) -> None:
    """An operator's own password changed: their address is told, as a customer's is."""
    payload = {"login": login, "email": email, "changed_at": at.isoformat()}
    await _publish(conn, OPERATOR_PASSWORD_CHANGED, payload, key=login)


async def totp_changed(
    conn: asyncpg.Connection, client: str, email: str, enabled: bool, at: dt.datetime
) -> None:
    payload = {
        "client_number": client,
        "email": email,
        "enabled": enabled,
        "changed_at": at.isoformat(),
    }
    await _publish(conn, TOTP_CHANGED, payload, key=client)


async def regulations_published(
    conn: asyncpg.Connection,
    version: int,
    effective_from: dt.datetime,
    summary: str,
    changed_clauses: list[str],
) -> None:
    payload = {
        "version": version,
        "effective_from": effective_from.isoformat(),
        "summary": summary,
        "changed_clauses": changed_clauses[:200],
    }
    await _publish(conn, REGULATIONS_PUBLISHED, payload, key="regulations")


async def sessions_ended(
    conn: asyncpg.Connection,
    kind: str,
    subject: str,
    session_ids: list[uuid.UUID],
    reason: str,
    until: dt.datetime,
) -> None:
    """Sessions ended early: the gateway refuses their live access tokens until ``until``."""
    payload = {
        "kind": kind,
        "subject": subject,
        "session_ids": [str(s) for s in session_ids],
        "reason": reason,
        "until": until.isoformat(),
    }
    await _publish(conn, SESSIONS_ENDED, payload, key=subject)
