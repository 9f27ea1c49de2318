"""Single-use links (table ``link_tokens``): activation, password reset, e-mail change.
Tokens are stored as their SHA-256 digest."""

from __future__ import annotations

import datetime as dt

import asyncpg

from . import Conn

_ACTIVATION = """
SELECT t.client_number, a.email FROM link_tokens t JOIN accounts a USING (client_number)
WHERE t.token_hash = $1 AND t.purpose = 'activation' AND t.used_at IS NULL
  AND t.expires_at > $2 AND a.status = 'pending'
"""
_RESET = """
SELECT t.client_number FROM link_tokens t JOIN accounts a USING (client_number)
WHERE t.token_hash = $1 AND t.purpose = 'password_reset' AND t.used_at IS NULL
  AND t.expires_at > $2 AND a.status = 'active'
"""


async def insert(
    conn: Conn,
    digest: bytes,
    purpose: str,
    client: str,
    now: dt.datetime,
    expires: dt.datetime,
    new_email: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO link_tokens (token_hash, purpose, client_number, new_email, created_at,"
        " expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        digest,
        purpose,
        client,
        new_email,
        now,
        expires,
    )


async def delete_activation(conn: Conn, client: str) -> None:
    await conn.execute(
        "DELETE FROM link_tokens WHERE client_number = $1 AND purpose = 'activation'", client
    )


async def find_activation(
    conn: Conn, digest: bytes, now: dt.datetime, *, lock: bool = False
) -> asyncpg.Record | None:
    """A live activation link of a pending account: its client number and e-mail."""
    return await conn.fetchrow(_ACTIVATION + (" FOR UPDATE OF t" if lock else ""), digest, now)


async def find_reset(
    conn: Conn, digest: bytes, now: dt.datetime, *, lock: bool = False
) -> str | None:
    """A live password-reset link of an active account: its client number."""
    return await conn.fetchval(_RESET + (" FOR UPDATE OF t" if lock else ""), digest, now)


async def find_email_change_for_update(
    conn: Conn, digest: bytes, now: dt.datetime
) -> asyncpg.Record | None:
    """A live e-mail change link: client number, the new and the current address."""
    return await conn.fetchrow(
        "SELECT t.client_number, t.new_email, a.email FROM link_tokens t"
        " JOIN accounts a USING (client_number)"
        " WHERE t.token_hash = $1 AND t.purpose = 'email_change' AND t.used_at IS NULL"
        " AND t.expires_at > $2 FOR UPDATE OF t, a",
        digest,
        now,
    )


async def spend(conn: Conn, digest: bytes, now: dt.datetime) -> None:
    await conn.execute("UPDATE link_tokens SET used_at = $2 WHERE token_hash = $1", digest, now)


async def spend_all(conn: Conn, client: str, purpose: str, now: dt.datetime) -> None:
    """Every unused link of that purpose: one used, the others die with it."""
    await conn.execute(
        "UPDATE link_tokens SET used_at = $3 WHERE client_number = $1"
        " AND purpose = $2 AND used_at IS NULL",
        client,
        purpose,
        now,
    )


async def prune(conn: Conn, before: dt.datetime) -> None:
    await conn.execute("DELETE FROM link_tokens WHERE expires_at < $1 OR used_at < $1", before)
