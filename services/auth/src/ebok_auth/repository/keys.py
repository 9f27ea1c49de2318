"""Database signing keys (table ``signing_keys``; local/dev/test only)."""

from __future__ import annotations

import datetime as dt

import asyncpg

from . import Conn

_KEY_LOCK = 0x0EB0C_A001  # advisory lock: one replica generates the first key


async def lock(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _KEY_LOCK)


async def published(conn: Conn, retired_since: dt.datetime) -> list[str]:
    """The PEMs to publish: the signing key (newest, not retired) first, then retired ones
    still within their grace period."""
    rows = await conn.fetch(
        "SELECT private_pem FROM signing_keys WHERE retired_at IS NULL OR retired_at > $1"
        " ORDER BY retired_at IS NOT NULL, created_at DESC",
        retired_since,
    )
    return [r["private_pem"] for r in rows]


async def insert(conn: Conn, kid: str, pem: str, now: dt.datetime) -> None:
    await conn.execute(
        "INSERT INTO signing_keys (kid, private_pem, created_at) VALUES ($1, $2, $3)",
        kid,
        pem,
        now,
    )


async def retire_all(conn: Conn, now: dt.datetime) -> None:
    await conn.execute("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL", now)
