"""The sender's statements on the delivery log, against a real PostgreSQL: recording outcomes
and claiming the next deliveries in one statement (one commit) does what the two separate
statements do, and never takes a row it records."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from ebok_notifier import repository as repo
from ebok_notifier.app import SPEC
from ebok_notifier.domain import Kind, Status, message_id
from ebok_shared import db

KEY, OTHER_KEY = 4242, 4343


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    conn = await db.connect(database)
    try:
        await db.migrate(conn, [("shared", db.SHARED_MIGRATIONS), ("notifier", SPEC.migrations)])
    finally:
        await conn.close()
    created = await db.create_pool(database, min_size=1, max_size=2)
    try:
        yield created
    finally:
        await created.close()


def _delivery(kind: Kind, n: int) -> repo.NewDelivery:
    event_id, address = uuid.uuid4(), f"klient{n}@example.pl"
    return repo.NewDelivery(
        event_id=event_id,
        recipient=address,
        kind=kind,
        context={"client_number": f"{100000 + n}", "email": address, "token": f"sekret{n}"},
        message_id=message_id(event_id, address, "example.pl"),
        client_number=f"{100000 + n}",
    )


async def test_outcomes_recorded_and_the_next_claimed_in_one_statement(
    pool: asyncpg.Pool,
) -> None:
    now = dt.datetime.now(dt.UTC)
    first_kinds = [Kind.PASSWORD_RESET, Kind.ACCOUNT_DELETED, Kind.LOCKOUT]
    async with pool.acquire() as conn:
        # Queued a minute earlier: the first claim takes these three (oldest first).
        earlier = now - dt.timedelta(minutes=1)
        await repo.enqueue(conn, [_delivery(k, n) for n, k in enumerate(first_kinds)], earlier)
        await repo.enqueue(conn, [_delivery(Kind.ACTIVATION, n) for n in range(3, 6)], now)
    first = await repo.claim(pool, KEY, 3, now)
    sent, deleted, retried = sorted(first, key=lambda row: first_kinds.index(Kind(row.kind)))
    later = now + dt.timedelta(minutes=5)
    outcomes = [
        repo.Outcome(sent.id, Status.SENT, "250 OK"),
        repo.Outcome(deleted.id, Status.SENT, f"250 OK for {deleted.recipient}"),
        repo.Outcome(retried.id, Status.PENDING, "421 try later", later),
    ]

    second = await repo.record_and_claim(pool, KEY, outcomes, 10, now)

    # The claim took the three still pending, none of the rows it recorded.
    assert {row.id for row in second}.isdisjoint(row.id for row in first)
    assert sorted(row.kind for row in second) == [Kind.ACTIVATION] * 3
    assert all(row.attempts == 1 for row in second)
    rows = {r["id"]: r for r in await pool.fetch("SELECT * FROM deliveries")}
    assert all((rows[r.id]["status"], rows[r.id]["claimed_by"]) == ("sending", KEY) for r in second)
    # What record_outcomes writes: sent with the one-time token gone; the deletion's
    # confirmation without its address once sent; the retry pending from its next attempt.
    assert (rows[sent.id]["status"], rows[sent.id]["claimed_by"]) == ("sent", None)
    assert rows[sent.id]["sent_at"] == now and "token" not in rows[sent.id]["context"]
    assert rows[deleted.id]["recipient"] is None and rows[deleted.id]["context"] is None
    assert rows[deleted.id]["last_answer"] == "250 OK for (adres usunięty)"
    assert (rows[retried.id]["status"], rows[retried.id]["next_attempt_at"]) == (
        "pending",
        later,
    )
    assert rows[retried.id]["last_answer"] == "421 try later"

    # Nothing more due: the outcomes are still recorded and nothing is claimed.
    assert await repo.record_and_claim(pool, KEY, [], 10, now) == []
    done = [repo.Outcome(row.id, Status.SENT, "250 OK") for row in second]
    assert await repo.record_and_claim(pool, KEY, done, 10, now) == []
    statuses = await pool.fetch("SELECT status, count(*) FROM deliveries GROUP BY status")
    assert {r["status"]: r["count"] for r in statuses} == {"sent": 5, "pending": 1}


async def test_outcomes_of_claims_another_sender_holds_are_not_recorded(
    pool: asyncpg.Pool,
) -> None:
    """A sender whose claims were released (its session was lost) and taken by another must
    not overwrite what the other records."""
    now = dt.datetime.now(dt.UTC)
    async with pool.acquire() as conn:
        await repo.enqueue(conn, [_delivery(Kind.LOCKOUT, 1)], now)
    [row] = await repo.claim(pool, OTHER_KEY, 5, now)
    assert (
        await repo.record_and_claim(
            pool, KEY, [repo.Outcome(row.id, Status.FAILED, "550 no")], 5, now
        )
        == []
    )
    stored = await pool.fetchrow("SELECT status, claimed_by FROM deliveries WHERE id = $1", row.id)
    assert (stored["status"], stored["claimed_by"]) == ("sending", OTHER_KEY)


async def test_the_operators_list_by_status_finds_each_status_newest_first(
    pool: asyncpg.Pool,
) -> None:
    """Failed and cancelled rows are found through their own partial index, the others by
    walking the log back (migration 0003): each status lists exactly its rows, pages on."""
    now = dt.datetime.now(dt.UTC)
    async with pool.acquire() as conn:
        await repo.enqueue(conn, [_delivery(Kind.LOCKOUT, n) for n in range(10)], now)
    claimed = sorted(await repo.claim(pool, KEY, 8, now), key=lambda row: row.id)
    statuses = [Status.SENT, Status.FAILED, Status.SENT, Status.FAILED, Status.FAILED]
    await repo.record_outcomes(
        pool,
        KEY,
        [
            repo.Outcome(row.id, status, "250 OK")
            for row, status in zip(claimed[:5], statuses, strict=True)
        ],
        now,
    )
    await pool.execute("UPDATE deliveries SET status = 'cancelled' WHERE id = $1", claimed[5].id)
    rows = await pool.fetch("SELECT id, status FROM deliveries ORDER BY id DESC")
    for status in Status:
        expected = [r["id"] for r in rows if r["status"] == status]
        listed = await repo.list_deliveries(pool, status=status.value, before_id=None, limit=50)
        assert [item["id"] for item in listed] == expected, status
        if len(expected) > 1:
            page = await repo.list_deliveries(
                pool, status=status.value, before_id=expected[0], limit=1
            )
            assert [item["id"] for item in page] == expected[1:2], status
    everything = await repo.list_deliveries(pool, status=None, before_id=None, limit=50)
    assert [item["id"] for item in everything] == [r["id"] for r in rows]
    assert {r["status"] for r in rows} == set(Status)
