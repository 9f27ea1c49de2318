"""Two-factor login state: TOTP keys and last used steps (columns of ``accounts`` and
``operators``) and customers' recovery codes (table ``recovery_codes``)."""

from __future__ import annotations

import datetime as dt

from . import Conn

_TABLES = {"customer": ("accounts", "client_number"), "operator": ("operators", "login")}


async def set_pending(conn: Conn, client: str, secret: str) -> None:
    await conn.execute(
        "UPDATE accounts SET totp_pending_secret = $2 WHERE client_number = $1", client, secret
    )


async def enable(conn: Conn, client: str, secret: str, step: int) -> None:
    await conn.execute(
        "UPDATE accounts SET totp_secret = $2, totp_pending_secret = NULL, totp_last_step = $3"
        " WHERE client_number = $1",
        client,
        secret,
        step,
    )


async def disable(conn: Conn, client: str) -> None:
    await conn.execute(
        "UPDATE accounts SET totp_secret = NULL, totp_pending_secret = NULL,"
        " totp_last_step = NULL WHERE client_number = $1",
        client,
    )


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
