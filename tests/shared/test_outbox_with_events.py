"""``Outbox.fetch_with_events``: a business statement and its events' outbox rows in one
statement, with the same guarantees as ``add_events`` and the statement apart: both or
neither (in the caller's transaction, or the statement's own), no events when the business
statement returns no row, the relays woken on commit, each envelope validated and stored as
it will be sent."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import asyncpg
import pytest
from ebok_shared import db
from ebok_shared.bus import Event, Outbox
from ebok_shared.bus.catalogue import SchemaError
from ebok_shared.bus.outbox import NOTIFY_CHANNEL

from tests.support.bus import CATALOGUE, INCREMENTED, prepare_database

APPLY = "INSERT INTO applied (event_id, event_type, n) VALUES ($1, $2, $3) RETURNING seq, n"


@contextlib.asynccontextmanager
async def _listened(database: str) -> AsyncIterator[tuple[asyncpg.Connection, asyncio.Event]]:
    """A connection to the prepared ``database``, and an event set when the relays are woken
    (a NOTIFY on the outbox's channel, heard on a second connection)."""
    await prepare_database(database)
    conn, listener = await db.connect(database), await db.connect(database)
    woken = asyncio.Event()
    await listener.add_listener(NOTIFY_CHANNEL, lambda *_: woken.set())
    try:
        yield conn, woken
    finally:
        await listener.close()
        await conn.close()


async def test_the_row_and_its_events_commit_together_and_wake_the_relays(database: str) -> None:
    outbox = Outbox(CATALOGUE)
    async with _listened(database) as (conn, woken):
        events = [Event.new(INCREMENTED, {"n": 1}), Event.new(INCREMENTED, {"n": 2})]
        async with conn.transaction():
            rows = await outbox.fetch_with_events(
                conn,
                [(events[0], "client:1"), (events[1], None)],
                APPLY,
                events[0].id,
                INCREMENTED,
                41,
            )
            assert [r["n"] for r in rows] == [41]
        stored = await conn.fetch(
            "SELECT event_id, event_type, aggregate_key, body FROM outbox ORDER BY id"
        )
        assert [(r["event_id"], r["aggregate_key"]) for r in stored] == [
            (events[0].id, "client:1"),
            (events[1].id, None),
        ]
        assert [json.loads(r["body"])["payload"] for r in stored] == [{"n": 1}, {"n": 2}]
        assert await conn.fetchval("SELECT count(*) FROM applied") == 1
        await asyncio.wait_for(woken.wait(), 30)  # delivered on commit


async def test_both_or_neither(database: str) -> None:
    await prepare_database(database)
    outbox = Outbox(CATALOGUE)
    conn = await db.connect(database)
    try:
        event = Event.new(INCREMENTED, {"n": 1})
        # Not a row, not an event: the business statement returned nothing.
        nothing = (
            "INSERT INTO applied (event_id, event_type, n) SELECT $1, $2, $3 WHERE false"
            " RETURNING n"
        )
        assert (
            await outbox.fetch_with_events(conn, [(event, None)], nothing, event.id, "x", 1) == []
        )
        with pytest.raises(asyncpg.UniqueViolationError):  # a statement of its own
            await outbox.fetch_with_events(
                conn,
                [(event, None), (event, None)],  # the outbox takes an event once
                APPLY,
                event.id,
                "x",
                1,
            )
        with pytest.raises(asyncpg.UniqueViolationError):
            async with conn.transaction():
                await outbox.fetch_with_events(conn, [(event, None)], APPLY, event.id, "x", 1)
                # The same event again: the outbox refuses it, and the first goes too.
                await outbox.fetch_with_events(conn, [(event, None)], APPLY, event.id, "x", 2)
        with pytest.raises(SchemaError):
            async with conn.transaction():
                bad = Event.new(INCREMENTED, {"n": "not a number"})
                await outbox.fetch_with_events(conn, [(bad, None)], APPLY, bad.id, "x", 3)
        assert await conn.fetchval("SELECT count(*) FROM applied") == 0
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await conn.close()


async def test_a_value_the_statement_makes_goes_into_each_body_in_place_of_its_stand_in(
    database: str,
) -> None:
    """``before``: the statement's own common table expressions; ``filled``: a value only the
    statement knows (here one it computes) put into each event's body where the stand-in
    was, the rest of the body byte for byte the validated one."""
    await prepare_database(database)
    outbox = Outbox(CATALOGUE)
    conn = await db.connect(database)
    made = "made AS (SELECT $3::int + 1 AS n)"
    insert = (
        "INSERT INTO applied (event_id, event_type, n, key) SELECT $1, $2, n, 'k-' || n"
        " FROM made RETURNING n, key"
    )
    try:
        stand_in = "stand-in-7f3a9c"
        events = [
            Event.new(INCREMENTED, {"n": 1, "key": stand_in}),
            Event.new(INCREMENTED, {"key": stand_in, "n": 2, "seq": 5}),
        ]
        rows = await outbox.fetch_with_events(
            conn,
            [(e, None) for e in events],
            insert,
            events[0].id,
            INCREMENTED,
            40,
            before=made,
            filled=("key", "key"),
        )
        assert [(r["n"], r["key"]) for r in rows] == [(41, "k-41")]
        stored = await conn.fetch("SELECT body FROM outbox ORDER BY id")
        assert [bytes(r["body"]) for r in stored] == [
            e.to_json().replace(b'"stand-in-7f3a9c"', b'"k-41"') for e in events
        ]
        await conn.execute("DELETE FROM outbox; DELETE FROM applied")

        # A stand-in that is in a body more than once ("test" is the producer too) is
        # refused before anything is sent; more than one business row fails the statement.
        twice = Event.new(INCREMENTED, {"n": 1, "key": "test"})
        with pytest.raises(ValueError, match="once"):
            await outbox.fetch_with_events(
                conn, [(twice, None)], insert, twice.id, "x", 1, before=made, filled=("key", "key")
            )
        with pytest.raises(asyncpg.CardinalityViolationError):
            await outbox.fetch_with_events(
                conn,
                [(events[0], None)],
                insert,
                events[0].id,
                "x",
                1,
                before="made AS (SELECT generate_series(1, 2) + $3::int AS n)",
                filled=("key", "key"),
            )
        assert await conn.fetchval("SELECT count(*) FROM applied") == 0
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await conn.close()


async def test_one_event_is_stored_as_several_are_and_only_with_the_row(database: str) -> None:
    """One event goes as four scalar parameters (not one-element arrays): the same outbox row,
    key and validated body, the relays woken, and nothing without the business row."""
    outbox = Outbox(CATALOGUE)
    async with _listened(database) as (conn, woken):
        keyed, unkeyed = Event.new(INCREMENTED, {"n": 1}), Event.new(INCREMENTED, {"n": 2})
        for event, key, n in ((keyed, "client:1", 7), (unkeyed, None, 8)):
            rows = await outbox.fetch_with_events(
                conn, [(event, key)], APPLY, event.id, INCREMENTED, n
            )
            assert [r["n"] for r in rows] == [n]
        stored = await conn.fetch(
            "SELECT event_id, event_type, aggregate_key, body FROM outbox ORDER BY id"
        )
        assert [
            (r["event_id"], r["event_type"], r["aggregate_key"], bytes(r["body"])) for r in stored
        ] == [
            (keyed.id, INCREMENTED, "client:1", keyed.to_json()),
            (unkeyed.id, INCREMENTED, None, unkeyed.to_json()),
        ]
        await asyncio.wait_for(woken.wait(), 30)
        lone = Event.new(INCREMENTED, {"n": 3})
        nothing = (
            "INSERT INTO applied (event_id, event_type, n) SELECT $1, $2, $3 WHERE false"
            " RETURNING n"
        )
        assert await outbox.fetch_with_events(conn, [(lone, "k")], nothing, lone.id, "x", 1) == []
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 2
        assert await conn.fetchval("SELECT count(*) FROM applied") == 2
