"""SQL of the back-office feed's batches."""

from __future__ import annotations

import datetime as dt
import uuid

from . import Conn, Record


async def lock_feed(conn: Conn, kind: str) -> None:
    """One batch of a kind at a time (until the transaction ends): rows of two batches
    never interleave."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"readings-feed:{kind}")


async def feed_batch(conn: Conn, kind: str, sha256: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT * FROM feed_batches WHERE kind = $1 AND sha256 = $2", kind, sha256
    )


async def insert_feed_batch(
    conn: Conn,
    batch_id: uuid.UUID,
    kind: str,
    sha256: str,
    rows: int,
    applied: int,
    by: str,
    at: dt.datetime,
) -> None:
    await conn.execute(
        """INSERT INTO feed_batches (id, kind, sha256, rows, applied, received_by, received_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        batch_id,
        kind,
        sha256,
        rows,
        applied,
        by,
        at,
    )
