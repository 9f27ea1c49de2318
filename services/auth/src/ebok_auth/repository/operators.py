"""Operator accounts (table ``operators``)."""

from __future__ import annotations

import datetime as dt

import asyncpg

from ..totp_vault import Sealed
from . import Conn

_ADMIN_LOCK = 0x0EB0C_A002  # advisory lock: one replica creates the bootstrap admin


async def insert(
    conn: Conn,
    *,
    login: str,
    email: str,
    roles: list[str],
    password_hash: str,
    must_change_password: bool,
    totp_secret: Sealed,
    now: dt.datetime,
    by: str,
) -> bool:
    """False if an operator of that login exists."""
    inserted = await conn.fetchval(
        "INSERT INTO operators (login, email, roles, password_hash, must_change_password,"
        " totp_secret, totp_key_id, created_at, created_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (login) DO NOTHING RETURNING true",
        login,
        email,
        roles,
        password_hash,
        must_change_password,
        totp_secret.ciphertext,
        totp_secret.key_id,
        now,
        by,
    )
    return bool(inserted)


async def lock_bootstrap(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _ADMIN_LOCK)


async def admin_exists(conn: Conn) -> bool:
    return bool(
        await conn.fetchval("SELECT true FROM operators WHERE 'admin' = ANY(roles) LIMIT 1")
    )


async def listing(conn: Conn) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT login, email, roles, active, created_at, created_by FROM operators"
        " ORDER BY login LIMIT 500"
    )


async def get_live(conn: Conn, login: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM operators WHERE login = $1 AND active", login)


async def set_password(conn: Conn, login: str, password_hash: str) -> None:
    await conn.execute(
        "UPDATE operators SET password_hash = $2, must_change_password = false WHERE login = $1",
        login,
        password_hash,
    )


async def set_password_hash(conn: Conn, login: str, password_hash: str) -> None:
    await conn.execute(
        "UPDATE operators SET password_hash = $2 WHERE login = $1", login, password_hash
    )
