"""Events the gateway consumes: every event about a client's data, which drops that client's
kept dashboard parts on every replica (see view_cache.py). Blocks, deletions and ended
sessions also revoke tokens, as in every component (the shared factory adds that:
ebok_shared.revocation). The gateway publishes no events."""

import asyncpg
from ebok_shared.bus import Event, Subscription, default_catalogue

from . import repository
from .view_cache import ALL


async def views_changed(conn: asyncpg.Connection, events: list[Event]) -> None:
    """A change to a client's data (or, without a client, to everyone's: new regulations)."""
    clients = {str(e.payload.get("client_number", ALL)) for e in events}
    await repository.views_changed(conn, [ALL] if ALL in clients else sorted(clients))


# Every catalogued event that names a client, so that no service's change can leave a stale
# view behind, plus the one that concerns every client.
VIEW_CHANGES: list[Subscription] = [
    Subscription(event_type, views_changed, version, batched=True)
    for (event_type, version), schema in sorted(default_catalogue().schemas.items())
    if "client_number" in schema.get("required", ()) or event_type == "auth.regulations.published"
]

SUBSCRIPTIONS: list[Subscription] = VIEW_CHANGES
