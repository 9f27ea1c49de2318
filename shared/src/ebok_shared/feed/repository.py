"""SQL of the feed batches every service records (``back_office_batches``, a shared table:
``ebok_shared/migrations/0002_back_office_batches.sql``)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, TypeAlias

import asyncpg

Conn: TypeAlias = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
Record: TypeAlias = asyncpg.Record


async def applied_batch(conn: Conn, kind: str, checksum: str) -> Record | None:
    row: Record | None = await conn.fetchrow(
        "SELECT * FROM back_office_batches"
        " WHERE kind = $1 AND checksum = $2 AND status = 'applied'",
        kind,
        checksum,
    )
    return row


async def record_batch(
    conn: Conn,
    *,
    batch_id: uuid.UUID,
    kind: str,
    checksum: str,
    fmt: str,
    status: str,
    row_count: int,
    applied: int,
    unchanged: int,
    submitted_by: str,
    received_at: dt.datetime | None,
    summary: dict[str, Any],
    error_count: int,
    errors: list[dict[str, Any]],
) -> Record:
    row: Record = await conn.fetchrow(
        """INSERT INTO back_office_batches (batch_id, kind, checksum, format, status, row_count,
               applied, unchanged, submitted_by, received_at, summary, error_count, errors)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($10, now()), $11, $12, $13)
           RETURNING *""",
        batch_id,
        kind,
        checksum,
        fmt,
        status,
        row_count,
        applied,
        unchanged,
        submitted_by,
        received_at,
        summary,
        error_count,
        errors,
    )
    return row


async def batch(conn: Conn, kinds: tuple[str, ...], batch_id: uuid.UUID) -> Record | None:
    row: Record | None = await conn.fetchrow(
        "SELECT * FROM back_office_batches WHERE batch_id = $1 AND kind = ANY($2::text[])",
        batch_id,
        list(kinds),
    )
    return row


async def batch_page(
    conn: Conn, kinds: tuple[str, ...], limit: int, offset: int
) -> tuple[int, list[Record]]:
    """Newest first, without the errors (a page of summaries)."""
    total = await conn.fetchval(
        "SELECT count(*) FROM back_office_batches WHERE kind = ANY($1::text[])", list(kinds)
    )
    rows = await conn.fetch(
        """SELECT batch_id, kind, checksum, format, status, row_count, applied, unchanged,
                  submitted_by, received_at, summary, error_count
           FROM back_office_batches WHERE kind = ANY($1::text[])
           ORDER BY received_at DESC, batch_id LIMIT $2 OFFSET $3""",
        list(kinds),
        limit,
        offset,
    )
    return total, rows
