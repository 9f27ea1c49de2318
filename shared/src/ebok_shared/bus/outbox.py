"""The transactional outbox: an event is a row written in the business transaction.

NOTIFY inside the same transaction wakes the relays the moment it commits (Postgres
delivers notifications only on commit, so a rolled-back change publishes nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from .catalogue import Catalogue, default_catalogue
from .envelope import Event, encode

NOTIFY_CHANNEL = "ebok_outbox"
# Rows per INSERT: a back-office batch may raise hundreds of thousands of events.
CHUNK = 5000

_INSERT = f"""
WITH added AS (
    INSERT INTO outbox (event_id, event_type, aggregate_key, body)
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[])
    RETURNING 1
)
SELECT pg_notify('{NOTIFY_CHANNEL}', '') FROM added LIMIT 1
"""


class Outbox:
    def __init__(self, catalogue: Catalogue | None = None) -> None:
        self.catalogue = catalogue or default_catalogue()

    async def add(
        self,
        conn: asyncpg.Connection,
        event_type: str,
        payload: dict[str, Any],
        *,
        version: int = 1,
        aggregate_key: str | None = None,
    ) -> Event:
        """Record one event in the caller's transaction. ``aggregate_key`` keeps order."""
        event = Event.new(event_type, payload, version=version)
        await self.add_events(conn, [(event, aggregate_key)])
        return event

    async def add_events(
        self, conn: asyncpg.Connection, events: Sequence[tuple[Event, str | None]]
    ) -> None:
        """Record events, each with its ``aggregate_key``, in the caller's transaction: the
        one way every service adds events (``add`` is this for a single one)."""
        if not conn.is_in_transaction():
            raise RuntimeError("outbox writes belong inside the business transaction")
        for start in range(0, len(events), CHUNK):
            await self._insert(conn, events[start : start + CHUNK])

    async def _insert(
        self, conn: asyncpg.Connection, events: Sequence[tuple[Event, str | None]]
    ) -> None:
        bodies = []
        for event, _ in events:
            envelope = event.to_dict()  # once: validated, then stored as it will be sent
            self.catalogue.validate_dict(envelope)
            bodies.append(encode(envelope))
        await conn.execute(
            _INSERT,
            [e.id for e, _ in events],
            [e.type for e, _ in events],
            [key for _, key in events],
            bodies,
        )


async def backlog(conn: asyncpg.Pool | asyncpg.Connection) -> int:
    """Events committed but not yet published (the relay deletes what it published)."""
    count = await conn.fetchval("SELECT count(*) FROM outbox")
    return int(count)
