"""notifier SQL: every query of this service, plain asyncpg."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from .domain import SECRET_FIELDS, Kind, Priority, Status

DELIVERIES_CHANNEL = "ebok_notifier_deliveries"  # NOTIFY: new deliveries are due
CAMPAIGNS_CHANNEL = "ebok_notifier_campaigns"  # NOTIFY: a campaign waits to be materialised
SENDER_LOCK_SPACE = 0x0EB0C05  # advisory lock (SENDER_LOCK_SPACE, key) held by a live sender


async def try_sender_lock(conn: asyncpg.Connection, key: int) -> bool:
    """Take the live sender's identity ``key`` for this session, if nobody holds it."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", SENDER_LOCK_SPACE, key))


@dataclass(frozen=True)
class NewDelivery:
    event_id: uuid.UUID
    recipient: str
    kind: str
    context: dict[str, Any]
    message_id: str
    client_number: str | None = None
    priority: int = Priority.TRANSACTIONAL


@dataclass(frozen=True)
class Claimed:
    """A delivery a sender holds: everything needed to build and send the e-mail."""

    id: int
    event_id: uuid.UUID
    recipient: str
    kind: str
    context: dict[str, Any] | None
    campaign_id: int | None
    message_id: str
    attempts: int  # including the one being made now
    queued_at: dt.datetime


# -- intake: inside the consumer's inbox transaction ------------------------------------------


async def enqueue(conn: asyncpg.Connection, items: Sequence[NewDelivery], now: dt.datetime) -> int:
    """Write e-mails to the delivery log (once per event and recipient); wakes the senders
    when the transaction commits. Returns how many were new."""
    if not items:
        return 0
    added = await conn.fetchval(
        """
        WITH added AS (
            INSERT INTO deliveries (event_id, recipient, kind, context, message_id,
                                    client_number, priority, next_attempt_at, queued_at)
            SELECT e, r, k, c, m, n, p, $8, $8
            FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::text[],
                        $6::text[], $7::smallint[]) AS t(e, r, k, c, m, n, p)
            ON CONFLICT DO NOTHING
            RETURNING 1
        )
        -- The senders are woken when the transaction commits (NOTIFY waits for it): in the
        -- same statement, not one more round trip per event.
        SELECT count(*), CASE WHEN count(*) > 0 THEN pg_notify($9, '') END FROM added
        """,
        [i.event_id for i in items],
        [i.recipient for i in items],
        [i.kind for i in items],
        [i.context for i in items],
        [i.message_id for i in items],
        [i.client_number for i in items],
        [int(i.priority) for i in items],
        now,
        DELIVERIES_CHANNEL,
    )
    return int(added)


async def recipient_email(conn: asyncpg.Connection, client_number: str) -> str | None:
    """The address of an active or blocked user, None if unknown or deleted."""
    email: str | None = await conn.fetchval(
        "SELECT email FROM recipients WHERE client_number = $1", client_number
    )
    return email


async def upsert_recipient(
    conn: asyncpg.Connection, client_number: str, email: str, status: str, at: dt.datetime
) -> None:
    """A user activated, blocked or unblocked (``status``), with the address the event names.
    An event older than the last one applied changes nothing (a redelivery arriving late);
    after a deletion the same client number may register and activate again."""
    await conn.execute(
        """
        INSERT INTO recipients (client_number, email, status, activated_at, last_event_at)
        VALUES ($1, $2, $3, $4, $4)
        ON CONFLICT (client_number) DO UPDATE
           SET email = EXCLUDED.email, status = EXCLUDED.status,
               activated_at = CASE WHEN recipients.status = 'deleted' THEN EXCLUDED.activated_at
                                   ELSE coalesce(recipients.activated_at, EXCLUDED.activated_at)
                              END,
               last_event_at = EXCLUDED.last_event_at, updated_at = now()
         WHERE recipients.last_event_at <= EXCLUDED.last_event_at
        """,
        client_number,
        email,
        status,
        at,
    )


async def change_recipient_email(
    conn: asyncpg.Connection, client_number: str, email: str, at: dt.datetime
) -> None:
    await conn.execute(
        """
        UPDATE recipients SET email = $2, last_event_at = $3, updated_at = now()
         WHERE client_number = $1 AND status <> 'deleted' AND last_event_at <= $3
        """,
        client_number,
        email,
        at,
    )


async def erase_recipient(conn: asyncpg.Connection, client_number: str, at: dt.datetime) -> None:
    """The account was deleted: its address is erased and the row only remembers that."""
    await conn.execute(
        """
        INSERT INTO recipients (client_number, email, status, last_event_at)
        VALUES ($1, NULL, 'deleted', $2)
        ON CONFLICT (client_number) DO UPDATE
           SET email = NULL, status = 'deleted', last_event_at = EXCLUDED.last_event_at,
               updated_at = now()
         WHERE recipients.last_event_at <= EXCLUDED.last_event_at
        """,
        client_number,
        at,
    )


async def cancel_pending(
    conn: asyncpg.Connection, client_number: str, keep_event: uuid.UUID, at: dt.datetime
) -> int:
    """Cancel e-mails not yet sent to a deleted account, except those of ``keep_event``."""
    result = await conn.execute(
        """
        UPDATE deliveries SET status = 'cancelled', updated_at = $3,
               last_answer = 'konto usunięte przed wysłaniem'
         WHERE client_number = $1 AND status = 'pending' AND event_id <> $2
        """,
        client_number,
        keep_event,
        at,
    )
    return int(result.split()[-1])


# What erasing a delivery's addressee does: the address goes from the row, from its context
# (the event's payload), from the SMTP answer, and from the Message-ID made from it.
_ERASE_ADDRESSEE = """
    recipient = NULL, context = NULL,
    last_answer = replace(last_answer, recipient, '(adres usunięty)'),
    message_id = '<erased.' || id || '@erased.invalid>'"""


async def erase_addressees(
    conn: asyncpg.Connection, client_number: str, keep_event: uuid.UUID, at: dt.datetime
) -> int:
    """The deleted account's e-mails in the log lose their address, except the deletion's own
    confirmation (``keep_event``), still to be sent: it loses it once sent (``record_outcomes``)."""
    result = await conn.execute(
        f"""
        UPDATE deliveries SET {_ERASE_ADDRESSEE}, updated_at = $3
         WHERE client_number = $1 AND event_id <> $2 AND recipient IS NOT NULL
        """,
        client_number,
        keep_event,
        at,
    )
    return int(result.split()[-1])


async def create_campaign(
    conn: asyncpg.Connection,
    *,
    event_id: uuid.UUID,
    kind: str,
    context: dict[str, Any],
    rate: float,
    now: dt.datetime,
) -> int | None:
    """A campaign to every user active now; None if this event already made one."""
    campaign_id: int | None = await conn.fetchval(
        """
        INSERT INTO campaigns (event_id, kind, context, total, rate, starts_at, created_at)
        SELECT $1, $2, $3,
               (SELECT count(*) FROM recipients WHERE status = 'active' AND activated_at <= $5),
               $4, $5, $5
        ON CONFLICT (event_id) DO NOTHING
        RETURNING id
        """,
        event_id,
        kind,
        context,
        rate,
        now,
    )
    if campaign_id is not None:
        await conn.execute("SELECT pg_notify($1, '')", CAMPAIGNS_CHANNEL)
    return campaign_id


# -- campaigns: materialised in chunks, resumable ------------------------------------------------


@dataclass(frozen=True)
class CampaignChunk:
    campaign_id: int
    event_id: uuid.UUID
    kind: str
    rate: float
    starts_at: dt.datetime
    first_ordinal: int
    recipients: list[tuple[str, str]]  # (client_number, email), in client-number order


async def lock_next_campaign(conn: asyncpg.Connection, size: int) -> CampaignChunk | None:
    """Inside a transaction: lock a campaign still being materialised (another replica skips
    it) and read its next chunk of recipients after the committed cursor."""
    campaign = await conn.fetchrow(
        """
        SELECT id, event_id, kind, rate, starts_at, cursor, materialised, created_at
          FROM campaigns WHERE status = 'materialising'
         ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
        """
    )
    if campaign is None:
        return None
    rows = await conn.fetch(
        """
        SELECT client_number, email FROM recipients
         WHERE status = 'active' AND client_number > $1 AND activated_at <= $2
         ORDER BY client_number LIMIT $3
        """,
        campaign["cursor"],
        campaign["created_at"],
        size,
    )
    return CampaignChunk(
        campaign_id=campaign["id"],
        event_id=campaign["event_id"],
        kind=campaign["kind"],
        rate=campaign["rate"],
        starts_at=campaign["starts_at"],
        first_ordinal=campaign["materialised"],
        recipients=[(r["client_number"], r["email"]) for r in rows],
    )


async def add_campaign_chunk(
    conn: asyncpg.Connection,
    chunk: CampaignChunk,
    *,
    message_ids: Sequence[str],
    due: Sequence[dt.datetime],
    finished: bool,
    now: dt.datetime,
) -> None:
    """Inside the same transaction: the chunk's delivery rows and the cursor after it."""
    await conn.execute(
        """
        INSERT INTO deliveries (event_id, recipient, client_number, kind, campaign_id, message_id,
                                priority, next_attempt_at, queued_at)
        SELECT $1, r, n, $2, $3, m, $4, d, d
          FROM unnest($5::text[], $6::text[], $7::text[], $8::timestamptz[]) AS t(n, r, m, d)
        ON CONFLICT DO NOTHING
        """,
        chunk.event_id,
        chunk.kind,
        chunk.campaign_id,
        int(Priority.CAMPAIGN),
        [n for n, _ in chunk.recipients],
        [r for _, r in chunk.recipients],
        list(message_ids),
        list(due),
    )
    await conn.execute(
        """
        UPDATE campaigns SET cursor = coalesce($2, cursor), materialised = materialised + $3,
               status = CASE WHEN $4::boolean THEN 'queued' ELSE status END,
               materialised_at = CASE WHEN $4::boolean THEN $5::timestamptz END
         WHERE id = $1
        """,
        chunk.campaign_id,
        chunk.recipients[-1][0] if chunk.recipients else None,
        len(chunk.recipients),
        finished,
        now,
    )
    if chunk.recipients:
        await conn.execute("SELECT pg_notify($1, '')", DELIVERIES_CHANNEL)


async def campaign_context(pool: asyncpg.Pool, campaign_id: int) -> dict[str, Any]:
    context: dict[str, Any] = await pool.fetchval(
        "SELECT context FROM campaigns WHERE id = $1", campaign_id
    )
    return context


# -- the sender ---------------------------------------------------------------------------------


async def release_claims_of(conn: asyncpg.Connection, key: int) -> None:
    """Claims left under ``key`` by a dead sender that had the same key go back to pending."""
    await conn.execute(
        "UPDATE deliveries SET status = 'pending', claimed_by = NULL"
        " WHERE status = 'sending' AND claimed_by = $1",
        key,
    )


async def reclaim_orphans(conn: asyncpg.Connection) -> int:
    """Deliveries held by a sender whose advisory lock is gone (its process or its database
    session died) go back to pending. One statement: a claim visible to it was made under a
    lock that was already held when it started."""
    result = await conn.execute(
        """
        UPDATE deliveries d SET status = 'pending', claimed_by = NULL, updated_at = now()
         WHERE d.status = 'sending'
           AND NOT EXISTS (
               SELECT 1 FROM pg_locks l
                WHERE l.locktype = 'advisory' AND l.granted
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND l.classid = $1::bigint::oid AND l.objsubid = 2
                  AND l.objid = d.claimed_by::bigint::oid)
        """,
        SENDER_LOCK_SPACE,
    )
    return int(result.split()[-1])


# Claiming due deliveries for the sender holding key {key}, at most {limit}, at {now}
# (committed at once, so a crash leaves them 'sending' under a dead key, to be reclaimed);
# it returns Claimed's fields, in their order.
_CLAIM = """
    UPDATE deliveries d
       SET status = 'sending', claimed_by = {key}, attempts = d.attempts + 1, updated_at = {now}
      FROM (SELECT id FROM deliveries
             WHERE status = 'pending' AND next_attempt_at <= {now}
             ORDER BY priority, next_attempt_at
             LIMIT {limit} FOR UPDATE SKIP LOCKED) due
     WHERE d.id = due.id
    RETURNING """ + ", ".join(f"d.{field.name}" for field in dataclasses.fields(Claimed))

# Recording outcomes ($1-$4: ids, statuses, answers, next attempts) of the sender holding key
# $6, at $5. Once sent, the one-time tokens an e-mail carried are not kept ($7); once the
# confirmation of an account's deletion ($8: its kind) is sent or failed for good, its
# address is not kept either.
_ERASE = "(d.kind = $8 AND o.status IN ('sent', 'failed'))"
_RECORD = f"""
    UPDATE deliveries d
       SET status = o.status, claimed_by = NULL, updated_at = $5,
           next_attempt_at = coalesce(o.next_at, d.next_attempt_at),
           sent_at = CASE WHEN o.status = 'sent' THEN $5 ELSE d.sent_at END,
           context = CASE WHEN {_ERASE} THEN NULL
                          WHEN o.status = 'sent' THEN d.context - $7::text[]
                          ELSE d.context END,
           recipient = CASE WHEN {_ERASE} THEN NULL ELSE d.recipient END,
           last_answer = CASE WHEN {_ERASE}
                              THEN replace(o.answer, d.recipient, '(adres usunięty)')
                              ELSE o.answer END,
           message_id = CASE WHEN {_ERASE} THEN '<erased.' || d.id || '@erased.invalid>'
                             ELSE d.message_id END
      FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[])
           AS o(id, status, answer, next_at)
     WHERE d.id = o.id AND d.claimed_by = $6 AND d.status = 'sending'
"""

# Both in one statement: one commit instead of two. The claim reads the snapshot the
# statement began with, where the recorded rows were all still 'sending': it cannot take one
# of them (a retry is never due at once anyway).
_RECORD_AND_CLAIM = f"WITH recorded AS ({_RECORD} RETURNING 1)" + _CLAIM.format(
    key="$6", now="$5", limit="$9"
)


async def claim(pool: asyncpg.Pool, key: int, limit: int, now: dt.datetime) -> list[Claimed]:
    """Claim up to ``limit`` due deliveries for the sender holding ``key``."""
    rows = await pool.fetch(_CLAIM.format(key="$1", limit="$2", now="$3"), key, limit, now)
    return [Claimed(*r) for r in rows]  # _CLAIM returns Claimed's fields in order


@dataclass
class Outcome:
    """How one attempt ended: sent, failed for good, or pending again from ``next_attempt_at``."""

    delivery_id: int
    status: Status
    answer: str
    next_attempt_at: dt.datetime | None = None
    relay_unavailable: bool = False  # not recorded; tells the sender to pause


def _record_arguments(
    key: int, outcomes: Sequence[Outcome], now: dt.datetime
) -> tuple[object, ...]:
    return (
        [o.delivery_id for o in outcomes],
        [str(o.status) for o in outcomes],
        [o.answer[:1000] for o in outcomes],
        [o.next_attempt_at for o in outcomes],
        now,
        key,
        list(SECRET_FIELDS),
        str(Kind.ACCOUNT_DELETED),
    )


async def record_outcomes(
    pool: asyncpg.Pool, key: int, outcomes: Sequence[Outcome], now: dt.datetime
) -> None:
    """Outcomes of attempts by the sender that still holds their claims, in one statement."""
    await pool.execute(_RECORD, *_record_arguments(key, outcomes, now))


async def record_and_claim(
    pool: asyncpg.Pool, key: int, outcomes: Sequence[Outcome], limit: int, now: dt.datetime
) -> list[Claimed]:
    """``record_outcomes`` and ``claim`` in one statement (one commit, not two)."""
    rows = await pool.fetch(_RECORD_AND_CLAIM, *_record_arguments(key, outcomes, now), limit)
    return [Claimed(*r) for r in rows]  # _CLAIM returns Claimed's fields in order


# -- operators ----------------------------------------------------------------------------------

_DELIVERY_COLUMNS = """id, event_id, kind, recipient, client_number, campaign_id, message_id,
    status, attempts, last_answer, next_attempt_at, queued_at, sent_at, created_at, updated_at"""


async def list_deliveries(
    pool: asyncpg.Pool, *, status: str | None, before_id: int | None, limit: int
) -> list[dict[str, Any]]:
    # Failed and cancelled rows have an index of their own (migration 0003), partial: the
    # planner uses it only where the query itself says the status is one of those two (a
    # prepared statement's parameter does not say so once its plan is generic).
    if status is None:
        which = "$1::text IS NULL"
    elif status in _INDEXED_STATUSES:
        which = "status = $1 AND status IN ('failed', 'cancelled')"
    else:
        which = "status = $1"
    rows = await pool.fetch(
        f"""
        SELECT {_DELIVERY_COLUMNS} FROM deliveries
         WHERE {which} AND ($2::bigint IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3
        """,
        status,
        before_id,
        limit,
    )
    return [dict(r) for r in rows]


_INDEXED_STATUSES = frozenset({Status.FAILED.value, Status.CANCELLED.value})


async def get_delivery(pool: asyncpg.Pool, delivery_id: int) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE id = $1", delivery_id
    )
    return dict(row) if row else None


async def requeue_failed(pool: asyncpg.Pool, delivery_id: int, now: dt.datetime) -> bool:
    """An operator's re-send: a failed delivery is due again now, with a fresh deadline."""
    result = await pool.fetchval(
        """
        WITH again AS (
            UPDATE deliveries SET status = 'pending', next_attempt_at = $2, queued_at = $2,
                   updated_at = $2
             WHERE id = $1 AND status = 'failed' AND recipient IS NOT NULL
            RETURNING 1
        )
        SELECT count(*) FROM again
        """,
        delivery_id,
        now,
    )
    if result:
        await pool.execute("SELECT pg_notify($1, '')", DELIVERIES_CHANNEL)
    return bool(result)


async def campaign_progress(pool: asyncpg.Pool, campaign_id: int) -> dict[str, Any] | None:
    campaign = await pool.fetchrow(
        """
        SELECT id, event_id, kind, status, total, materialised, rate, starts_at, created_at,
               materialised_at
          FROM campaigns WHERE id = $1
        """,
        campaign_id,
    )
    if campaign is None:
        return None
    counts = {
        r["status"]: r["n"]
        for r in await pool.fetch(
            "SELECT status, count(*) AS n FROM deliveries WHERE campaign_id = $1 GROUP BY status",
            campaign_id,
        )
    }
    return {"campaign": dict(campaign), "counts": counts}


async def list_campaigns(pool: asyncpg.Pool, limit: int) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT id, event_id, kind, status, total, materialised, created_at"
        " FROM campaigns ORDER BY id DESC LIMIT $1",
        limit,
    )
    return [dict(r) for r in rows]


async def export(pool: asyncpg.Pool, client_number: str) -> dict[str, Any]:
    """What the notifier holds about one customer (GDPR art. 15): the address it e-mails and
    the log of the e-mails sent to them; never the e-mails' contents (one-time links)."""
    recipient = await pool.fetchrow(
        "SELECT email, status, activated_at FROM recipients WHERE client_number = $1",
        client_number,
    )
    rows = await pool.fetch(
        """
        SELECT id, kind, recipient, status, attempts, campaign_id, created_at, sent_at
          FROM deliveries WHERE client_number = $1 ORDER BY id
        """,
        client_number,
    )
    return {
        "recipient": dict(recipient) if recipient else None,
        "deliveries": [dict(r) for r in rows],
    }
