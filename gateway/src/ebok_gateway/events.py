"""Events the gateway consumes: auth's blocks and deletions, which end every token of that
account, and sessions ended early (logout, password change), which end theirs — on every
replica (see revocation.py). The gateway publishes no events."""

import datetime as dt

import asyncpg
from ebok_shared.bus import Event, Subscription

from . import repository


async def account_closed(conn: asyncpg.Connection, event: Event) -> None:
    """Blocked or deleted: tokens issued up to this moment are refused from now on."""
    await repository.revoke_subject(
        conn, f"customer:{event.payload['client_number']}", event.occurred_at, event.type
    )


async def sessions_ended(conn: asyncpg.Connection, event: Event) -> None:
    until = dt.datetime.fromisoformat(event.payload["until"])
    for session_id in event.payload["session_ids"]:
        await repository.revoke_session(conn, session_id, until)


# One line per consumed event.
SUBSCRIPTIONS: list[Subscription] = [
    Subscription("auth.account.blocked", account_closed),
    Subscription("auth.account.deleted", account_closed),
    Subscription("auth.sessions.ended", sessions_ended),
]
