"""SQL of the back-office feed's batches (their record is the shared feed's:
``ebok_shared.feed``)."""

from __future__ import annotations

from ..common.connection import Conn


async def lock_feed(conn: Conn, kind: str) -> None:
    """One batch of a kind at a time (until the transaction ends): rows of two batches
    never interleave."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"readings-feed:{kind}")
