"""Events the gateway consumes: auth's blocks and deletions, which end every token of that
account on every replica (see revocation.py). The gateway publishes no events."""

import asyncpg
from ebok_shared.bus import Event, Subscription

from . import repository


async def account_closed(conn: asyncpg.Connection, event: Event) -> None:
    """Blocked or deleted: tokens issued up to this moment are refused from now on."""
    await repository.revoke_subject(
        conn, f"customer:{event.payload['client_number']}", event.occurred_at, event.type
    )


# One line per consumed event.
SUBSCRIPTIONS: list[Subscription] = [
    Subscription("auth.account.blocked", account_closed),
    Subscription("auth.account.deleted", account_closed),
]
