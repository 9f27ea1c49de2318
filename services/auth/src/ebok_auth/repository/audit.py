"""The security audit log (table ``audit_log``, read through the view ``audit_entries``).

Written in the same transaction as the change it records. Details are chosen by the caller
from a closed set of harmless fields; a password, token or secret never goes in. The
database makes the log append-only and hash-chained and stores subjects as pseudonyms
(migration 0004): ``forget_subject`` is what erasure does to it. Each row is sealed in the
same transaction with the process's audit key (``ebok_auth.audit_seal``, migration 0005):
``use_seal`` installs it once when the app is made, so the many callers of ``record`` need
not carry it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from ebok_shared.clock import clock
from ebok_shared.logs import correlation_id_var, get_logger

from . import Conn

log = get_logger(__name__)

_FORBIDDEN = ("password", "token", "secret", "code")

Sealer = Callable[[bytes], tuple[str, bytes]]  # a row's hash -> (key id, seal)
_sealer: Sealer | None = None


def use_seal(sealer: Sealer) -> None:
    """The seal every row written from now on gets (auth has one key list per process)."""
    global _sealer
    _sealer = sealer


@asynccontextmanager
async def transaction(conn: Conn) -> AsyncIterator[asyncpg.Connection]:
    """A row and its seal commit together: a transaction (a savepoint inside the caller's)."""
    if isinstance(conn, asyncpg.Pool):
        async with conn.acquire() as acquired, acquired.transaction():
            yield acquired
    else:
        async with conn.transaction():
            yield conn


async def seal_row(conn: Conn, row_id: int, row_hash: bytes) -> None:
    """Seal the row just written (in the caller's transaction)."""
    if _sealer is None:
        raise RuntimeError("the audit seal is not installed (audit.use_seal)")
    key_id, mac = _sealer(row_hash)
    await conn.execute(
        "INSERT INTO audit_seals (row_id, key_id, mac) VALUES ($1, $2, $3)", row_id, key_id, mac
    )


# A key id written into SQL as a literal (``insert_sealed``): what a key list's ids are in
# practice; any other id takes the path with parameters.
_PLAIN_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")


async def insert_sealed(conn: Conn, query: str, *args: Any) -> None:
    """``query`` (an insert into audit_log, with other writes in its WITH if need be,
    ``RETURNING id, row_hash``) and its row's seal, committed together.

    Given the pool, the transaction is this function's own, and the seal goes with the
    COMMIT in one simple query (BEGIN, the insert, then seal and COMMIT: three round trips,
    not four, on the login path, and the chain's lock held one round trip less). The seal's
    values are an integer, a plain key id and hex, written as literals. Inside a caller's
    transaction: a savepoint, as ``transaction``."""
    if _sealer is None:
        raise RuntimeError("the audit seal is not installed (audit.use_seal)")
    if not isinstance(conn, asyncpg.Pool):
        async with transaction(conn) as tx:
            row = await tx.fetchrow(query, *args)
            assert row is not None
            await seal_row(tx, row["id"], row["row_hash"])
        return
    async with conn.acquire() as acquired:
        await acquired.execute("BEGIN")
        try:
            row = await acquired.fetchrow(query, *args)
            assert row is not None
            key_id, mac = _sealer(row["row_hash"])
            if _PLAIN_KEY_ID.fullmatch(key_id):
                await acquired.execute(
                    "INSERT INTO audit_seals (row_id, key_id, mac) VALUES"
                    f" ({int(row['id'])}, '{key_id}', decode('{mac.hex()}', 'hex')); COMMIT"
                )
            else:
                await acquired.execute(
                    "INSERT INTO audit_seals (row_id, key_id, mac) VALUES ($1, $2, $3)",
                    row["id"],
                    key_id,
                    mac,
                )
                await acquired.execute("COMMIT")
        except BaseException:
            # Anything short of the COMMIT (an error, a cancellation) leaves nothing; a
            # connection that cannot even roll back is reset or dropped by the pool.
            if not acquired.is_closed() and acquired.is_in_transaction():
                with contextlib.suppress(Exception):
                    await acquired.execute("ROLLBACK")
            raise


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
    await insert_sealed(
        conn,
        "INSERT INTO audit_log (occurred_at, type, actor, subject, ip, correlation_id,"
        " details) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, row_hash",
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
    """The first row whose hash or link does not match the recomputed SHA-256 chain (the
    database's own check, without the seals); None: intact."""
    return await conn.fetchval("SELECT audit_chain_broken()")


async def chain(conn: asyncpg.Connection) -> AsyncIterator[asyncpg.Record]:
    """Every row in chain order: its hash, the hash recomputed from its content, its link
    to the row before, and its seal (NULLs: none). Streamed (the caller's transaction)."""
    async for row in conn.cursor(
        """SELECT a.id, a.row_hash, audit_row_hash(a.prev_hash, a) AS recomputed,
                  a.prev_hash, lag(a.row_hash) OVER (ORDER BY a.id) AS before,
                  row_number() OVER (ORDER BY a.id) AS n, s.key_id, s.mac
             FROM audit_log a LEFT JOIN audit_seals s ON s.row_id = a.id
            ORDER BY a.id"""
    ):
        yield row


async def any_sealed(conn: Conn) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM audit_seals)"))


async def unsealed(conn: Conn) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT a.id, a.row_hash FROM audit_log a"
        " WHERE NOT EXISTS (SELECT 1 FROM audit_seals s WHERE s.row_id = a.id) ORDER BY a.id"
    )


async def head(conn: Conn) -> asyncpg.Record | None:
    """The newest row's id and hash (logged: a copy of the chain's head outside the
    database)."""
    return await conn.fetchrow("SELECT id, row_hash FROM audit_log ORDER BY id DESC LIMIT 1")
