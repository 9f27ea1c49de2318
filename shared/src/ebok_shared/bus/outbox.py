"""The transactional outbox: an event is a row written in the business transaction.

NOTIFY inside the same transaction wakes the relays the moment it commits (Postgres
delivers notifications only on commit, so a rolled-back change publishes nothing).
"""

from __future__ import annotations

import functools
import json
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

# A business statement and its events' rows as one statement: the business statement's
# parameters come first, the events' four arrays after them. Data-modifying CTEs always run
# to completion, whatever the outer query reads; the events are written only if the
# business statement returned a row; the NOTIFY rides on each event row (PostgreSQL folds a
# transaction's identical notifications into one).
_WITH_EVENTS = """
WITH {before}business AS ({query}),
added AS (
    INSERT INTO outbox (event_id, event_type, aggregate_key, body)
    SELECT * FROM unnest(${n1}::uuid[], ${n2}::text[], ${n3}::text[], ${n4}::bytea[])
     WHERE EXISTS (SELECT 1 FROM business)
    RETURNING pg_notify('{channel}', '')
)
SELECT * FROM business
"""
# The same for one event (the common case: a reading, a case), its columns as four scalar
# parameters: four one-element arrays cost the client their array encoding and the server
# their parsing and unnest, on every request that raises one event.
_WITH_EVENT = """
WITH {before}business AS ({query}),
added AS (
    INSERT INTO outbox (event_id, event_type, aggregate_key, body)
    SELECT ${n1}::uuid, ${n2}::text, ${n3}::text, ${n4}::bytea
     WHERE EXISTS (SELECT 1 FROM business)
    RETURNING pg_notify('{channel}', '')
)
SELECT * FROM business
"""
# The same, with a value only the statement knows (a number it takes from a counter) put
# into each body: the JSON of the business row's column over the stand-in's bytes (its
# place, 1-based, and length: two more arrays). A scalar subquery: more than one business
# row is an error, not events written once per row.
_WITH_FILLED_EVENTS = """
WITH {before}business AS ({query}),
added AS (
    INSERT INTO outbox (event_id, event_type, aggregate_key, body)
    SELECT e.id, e.type, e.key,
           overlay(e.body PLACING convert_to(
               to_jsonb((SELECT {column} FROM business))::text, 'UTF8') FROM e.at FOR e.len)
      FROM unnest(${n1}::uuid[], ${n2}::text[], ${n3}::text[], ${n4}::bytea[], ${n5}::int[],
                  ${n6}::int[]) AS e (id, type, key, body, at, len)
     WHERE EXISTS (SELECT 1 FROM business)
    RETURNING pg_notify('{channel}', '')
)
SELECT * FROM business
"""


@functools.lru_cache(maxsize=256)
def _with_events(query: str, n: int, before: str, column: str | None, one: bool = False) -> str:
    """The statement around ``query`` of ``n`` parameters, written once per statement: a
    caller passes the same few statements on every request. ``one``: of one event, its
    columns as scalars (``_WITH_EVENT``)."""
    if column is not None:
        template = _WITH_FILLED_EVENTS
    else:
        template = _WITH_EVENT if one else _WITH_EVENTS
    return template.format(
        before=f"{before}, " if before else "",
        query=query,
        column=column or "",
        n1=n + 1,
        n2=n + 2,
        n3=n + 3,
        n4=n + 4,
        n5=n + 5,
        n6=n + 6,
        channel=NOTIFY_CHANNEL,
    )


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

    async def fetch_with_events(
        self,
        conn: asyncpg.Connection | asyncpg.Pool,
        events: Sequence[tuple[Event, str | None]],
        query: str,
        *args: Any,
        before: str = "",
        filled: tuple[str, str] | None = None,
    ) -> list[asyncpg.Record]:
        """``query`` (one statement with its parameters ``$1``..; a data-modifying one with
        ``RETURNING``, or a SELECT) and the rows of ``events`` in the same statement: one
        round trip where ``add_events`` and the statement take two. ``query``'s rows are the
        answer; with none, no event is written either. On a pool, or outside a transaction,
        the statement is a transaction of its own (both or neither, still).

        ``before``: common table expressions of the statement's own (``a AS (…), b AS
        (…)``), which ``query`` may read: a data-modifying one cannot be nested in ``query``,
        so they go first in the statement's one WITH list.

        ``filled`` (payload field, column of ``query``'s one row): a value the statement
        itself makes, e.g. a number it takes from a counter, put into each event's payload
        field as JSON. The events are built, and validated, with a stand-in of the same form
        in that field, whose JSON occurs once in each body (a random one: nothing the
        request carries can repeat it); the stored body is the validated one with the
        stand-in's bytes replaced."""
        if not 0 < len(events) <= CHUNK:
            raise ValueError(f"1 to {CHUNK} events go with one statement")
        ids, types, keys, bodies = self._columns(events)
        if filled is None:
            one = len(events) == 1
            sql = _with_events(query, len(args), before, None, one)
            if one:
                return await conn.fetch(sql, *args, ids[0], types[0], keys[0], bodies[0])
            return await conn.fetch(sql, *args, ids, types, keys, bodies)
        sql = _with_events(query, len(args), before, filled[1])
        places, lengths = [], []
        for (event, _), body in zip(events, bodies, strict=True):
            stand_in = json.dumps(event.payload[filled[0]], ensure_ascii=False).encode()
            at = body.find(stand_in)
            if at < 0 or body.find(stand_in, at + 1) >= 0:
                raise ValueError(f"the stand-in of {filled[0]} must occur once in each body")
            places.append(at + 1)
            lengths.append(len(stand_in))
        return await conn.fetch(sql, *args, ids, types, keys, bodies, places, lengths)

    def _columns(
        self, events: Sequence[tuple[Event, str | None]]
    ) -> tuple[list[Any], list[str], list[str | None], list[bytes]]:
        """The outbox rows of ``events``, column by column (each envelope validated once and
        stored as it will be sent)."""
        bodies = []
        for event, _ in events:
            envelope = event.to_dict()
            self.catalogue.validate_dict(envelope)
            bodies.append(encode(envelope))
        return (
            [e.id for e, _ in events],
            [e.type for e, _ in events],
            [key for _, key in events],
            bodies,
        )

    async def _insert(
        self, conn: asyncpg.Connection, events: Sequence[tuple[Event, str | None]]
    ) -> None:
        await conn.execute(_INSERT, *self._columns(events))


async def backlog(conn: asyncpg.Pool | asyncpg.Connection) -> int:
    """Events committed but not yet published (the relay deletes what it published)."""
    count = await conn.fetchval("SELECT count(*) FROM outbox")
    return int(count)
