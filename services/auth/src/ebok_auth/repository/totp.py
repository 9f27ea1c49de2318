"""Two-factor login state: TOTP keys and last used steps (columns of ``accounts`` and
``operators``) and customers' recovery codes (table ``recovery_codes``)."""

from __future__ import annotations

import datetime as dt

import asyncpg

from ..totp_vault import Sealed
from . import Conn

_TABLES = {"customer": ("accounts", "client_number"), "operator": ("operators", "login")}


async def set_pending(conn: Conn, client: str, sealed: Sealed) -> None:
    await conn.execute(
        "UPDATE accounts SET totp_pending_secret = $2, totp_pending_key_id = $3"
        " WHERE client_number = $1",
        client,
        sealed.ciphertext,
        sealed.key_id,
    )


async def enable(conn: Conn, client: str, step: int) -> None:
    """The pending key (sealed as it is) becomes the account's."""
    await conn.execute(
        "UPDATE accounts SET totp_secret = totp_pending_secret,"
        " totp_key_id = totp_pending_key_id, totp_pending_secret = NULL,"
        " totp_pending_key_id = NULL, totp_last_step = $2 WHERE client_number = $1",
        client,
        step,
    )


async def disable(conn: Conn, client: str) -> None:
    await conn.execute(
        "UPDATE accounts SET totp_secret = NULL, totp_key_id = NULL, totp_pending_secret = NULL,"
        " totp_pending_key_id = NULL, totp_last_step = NULL WHERE client_number = $1",
        client,
    )


# -- sealing: keys stored in clear or under another key than the current one -------------------

_SEAL_LOCK = 0x0EB0C_A003  # advisory lock: one replica re-seals at a time

_STALE = {
    ("customer", "totp_secret"): (
        "SELECT client_number AS subject, totp_secret AS stored, totp_key_id AS key_id"
        " FROM accounts WHERE totp_secret IS NOT NULL AND totp_key_id IS DISTINCT FROM $1"
    ),
    ("customer", "totp_pending_secret"): (
        "SELECT client_number AS subject, totp_pending_secret AS stored,"
        " totp_pending_key_id AS key_id FROM accounts"
        " WHERE totp_pending_secret IS NOT NULL AND totp_pending_key_id IS DISTINCT FROM $1"
    ),
    ("operator", "totp_secret"): (
        "SELECT login AS subject, totp_secret AS stored, totp_key_id AS key_id"
        " FROM operators WHERE totp_key_id IS DISTINCT FROM $1"
    ),
}
_RESEAL = {
    ("customer", "totp_secret"): (
        "UPDATE accounts SET totp_secret = $2, totp_key_id = $3"
        " WHERE client_number = $1 AND totp_secret = $4"
    ),
    ("customer", "totp_pending_secret"): (
        "UPDATE accounts SET totp_pending_secret = $2, totp_pending_key_id = $3"
        " WHERE client_number = $1 AND totp_pending_secret = $4"
    ),
    ("operator", "totp_secret"): (
        "UPDATE operators SET totp_secret = $2, totp_key_id = $3"
        " WHERE login = $1 AND totp_secret = $4"
    ),
}
COLUMNS = tuple(_STALE)


async def lock_sealing(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _SEAL_LOCK)


async def stale(conn: Conn, column: tuple[str, str], key_id: str) -> list[asyncpg.Record]:
    """Keys in ``column`` not sealed with ``key_id`` (in clear, or under another key)."""
    return await conn.fetch(_STALE[column], key_id)


async def reseal(
    conn: Conn, column: tuple[str, str], subject: str, sealed: Sealed, was: str
) -> None:
    """Compare-and-set: a key changed meanwhile (enrolment, removal) is left alone."""
    await conn.execute(_RESEAL[column], subject, sealed.ciphertext, sealed.key_id, was)


async def use_step(conn: Conn, kind: str, subject: str, step: int) -> bool:
    """Conditional update: two concurrent logins with one code cannot both win."""
    table, key = _TABLES[kind]
    used = await conn.fetchval(
        f"UPDATE {table} SET totp_last_step = $2 WHERE {key} = $1"
        " AND (totp_last_step IS NULL OR totp_last_step < $2) RETURNING true",
        subject,
        step,
    )
    return bool(used)


async def replace_recovery_codes(conn: Conn, client: str, hashes: list[bytes]) -> None:
    await delete_recovery_codes(conn, client)
    await conn.executemany(
        "INSERT INTO recovery_codes (client_number, code_hash) VALUES ($1, $2)",
        [(client, h) for h in hashes],
    )


async def delete_recovery_codes(conn: Conn, client: str) -> None:
    await conn.execute("DELETE FROM recovery_codes WHERE client_number = $1", client)


async def use_recovery_code(conn: Conn, client: str, code_hash: bytes, now: dt.datetime) -> bool:
    used = await conn.fetchval(
        "UPDATE recovery_codes SET used_at = $3 WHERE client_number = $1 AND code_hash = $2"
        " AND used_at IS NULL RETURNING true",
        client,
        code_hash,
        now,
    )
    return bool(used)
