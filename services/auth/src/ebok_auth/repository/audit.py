"""The security audit log (table ``audit_log``, read through the view ``audit_entries``).

Written in the same transaction as the change it records. Details are chosen by the caller
from a closed set of harmless fields; a password, token or secret never goes in. The
database makes the log append-only and hash-chained and stores subjects as pseudonyms
(migration 0003): ``forget_subject`` is what erasure does to it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
from ebok_shared.clock import clock
from ebok_shared.logs import correlation_id_var, get_logger

from . import Conn

log = get_logger(__name__)

_FORBIDDEN = ("password", "token", "secret", "code")


async def record(
    conn: Conn,
    type: str,
    *,
    actor: str,
    subject: str | None = None,
    ip: str | None = None,
    **details: Any,
) -> None:
    bad = [k for k in details if any(f in k for f in _FORBIDDEN)]
    if bad:  # a programming error, caught by tests: secrets never reach the audit log
        raise ValueError(f"audit details must not carry secrets: {bad}")
    await conn.execute(
        "INSERT INTO audit_log (occurred_at, type, actor, subject, ip, correlation_id, details)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        clock.now(),
        type,
        actor,
        subject,
        ip,
        correlation_id_var.get(),
        details,
    )
    log.info("audit", audit_type=type, actor=actor, subject=subject)


async def query(
    conn: Conn,
    *,
    subject: str | None,
    type: str | None,
    actor: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    before_id: int | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first, keyset-paged by id. ``subject`` and ``actor`` are the clear values (an
    erased account's entries are found by their pseudonym only)."""
    return await conn.fetch(
        """SELECT id, occurred_at, type, actor, subject, ip, correlation_id, details
           FROM audit_entries
           WHERE ($1::text IS NULL OR subject = $1 OR pseudonym = $1)
             AND ($2::text IS NULL OR type = $2)
             AND ($3::text IS NULL OR actor = $3)
             AND ($4::timestamptz IS NULL OR occurred_at >= $4)
             AND ($5::timestamptz IS NULL OR occurred_at < $5)
             AND ($6::bigint IS NULL OR id < $6)
           ORDER BY id DESC LIMIT $7""",
        subject,
        type,
        actor,
        since,
        until,
        before_id,
        limit,
    )


async def export(conn: Conn, subject: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT occurred_at, type, actor, ip, details FROM audit_entries WHERE subject = $1"
        " ORDER BY id DESC LIMIT 1000",
        subject,
    )


async def prune(pool: asyncpg.Pool, before: dt.datetime) -> None:
    """Retention: the database lets only this transaction delete, and only rows older than a
    month by its own clock."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL ebok.audit_retention = 'on'")
        await conn.execute("DELETE FROM audit_log WHERE occurred_at < $1", before)


async def forget_subject(conn: Conn, subject: str) -> None:
    """Erasure: the link from the subject's pseudonym to its clear value goes; the log's
    rows (append-only) keep the pseudonym alone."""
    await conn.execute("DELETE FROM audit_subjects WHERE subject = $1", subject)


async def first_broken(conn: Conn) -> int | None:
    """The first row whose hash or link does not match the recomputed chain; None: intact."""
    return await conn.fetchval("SELECT audit_chain_broken()")


async def head(conn: Conn) -> asyncpg.Record | None:
    """The newest row's id and hash (logged: a copy of the chain's head outside the
    database)."""
    return await conn.fetchrow("SELECT id, row_hash FROM audit_log ORDER BY id DESC LIMIT 1")
