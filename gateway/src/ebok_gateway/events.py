"""Events the gateway consumes: auth's blocks and deletions, which end every token of that
account, and sessions ended early (logout, password change), which end theirs — on every
replica (see revocation.py); and every event about a client's data, which drops that
client's kept dashboard parts on every replica (see view_cache.py). The gateway publishes
no events."""

import datetime as dt

import asyncpg
from ebok_shared.bus import Event, Subscription, default_catalogue

from . import repository
from .view_cache import ALL


async def account_closed(conn: asyncpg.Connection, event: Event) -> None:
    """Blocked or deleted: tokens issued up to this moment are refused from now on."""
    client = event.payload["client_number"]
    await repository.revoke_subject(conn, f"customer:{client}", event.occurred_at, event.type)
    await repository.views_changed(conn, [client])


async def sessions_ended(conn: asyncpg.Connection, event: Event) -> None:
    until = dt.datetime.fromisoformat(event.payload["until"])
    for session_id in event.payload["session_ids"]:
        await repository.revoke_session(conn, session_id, until)


async def views_changed(conn: asyncpg.Connection, events: list[Event]) -> None:
    """A change to a client's data (or, without a client, to everyone's: new regulations)."""
    clients = {str(e.payload.get("client_number", ALL)) for e in events}
    await repository.views_changed(conn, [ALL] if ALL in clients else sorted(clients))


REVOCATIONS: list[Subscription] = [
    Subscription("auth.account.blocked", account_closed),
    Subscription("auth.account.deleted", account_closed),
    Subscription("auth.sessions.ended", sessions_ended),
]
_TAKEN = {s.event_type for s in REVOCATIONS}

# Every catalogued event that names a client, so that no service's change can leave a stale
# view behind, plus the one that concerns every client.
VIEW_CHANGES: list[Subscription] = [
    Subscription(event_type, views_changed, version, batched=True)
    for (event_type, version), schema in sorted(default_catalogue().schemas.items())
    if event_type not in _TAKEN
    and (
        "client_number" in schema.get("required", ()) or event_type == "auth.regulations.published"
    )
]

SUBSCRIPTIONS: list[Subscription] = REVOCATIONS + VIEW_CHANGES
