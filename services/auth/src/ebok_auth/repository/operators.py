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


# What an admin sees of an operator (never the password hash or the TOTP key).
_PUBLIC = (
    "login, email, roles, active, created_at, created_by, roles_changed_at, roles_changed_by,"
    " deactivated_at, deactivated_by, totp_reset_at, must_change_password"
)


async def listing(conn: Conn) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {_PUBLIC} FROM operators ORDER BY login LIMIT 500")


async def get(conn: Conn, login: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_PUBLIC} FROM operators WHERE login = $1", login)


async def lock_admins(conn: asyncpg.Connection) -> None:
    """One admin change at a time: two admins cannot each take the other's admin role."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _ADMIN_LOCK)


async def other_active_admins(conn: Conn, login: str) -> int:
    count = await conn.fetchval(
        "SELECT count(*) FROM operators WHERE active AND 'admin' = ANY(roles) AND login <> $1",
        login,
    )
    return int(count)


async def set_roles(conn: Conn, login: str, roles: list[str], now: dt.datetime, by: str) -> bool:
    changed = await conn.fetchval(
        "UPDATE operators SET roles = $2, roles_changed_at = $3, roles_changed_by = $4"
        " WHERE login = $1 AND active RETURNING true",
        login,
        roles,
        now,
        by,
    )
    return bool(changed)


async def deactivate(conn: Conn, login: str, now: dt.datetime, by: str) -> bool:
    done = await conn.fetchval(
        "UPDATE operators SET active = false, deactivated_at = $2, deactivated_by = $3"
        " WHERE login = $1 AND active RETURNING true",
        login,
        now,
        by,
    )
    return bool(done)


async def reset_totp(conn: Conn, login: str, secret: Sealed, now: dt.datetime) -> bool:
    """A new TOTP key (the old one's last used step goes with it)."""
    done = await conn.fetchval(
        "UPDATE operators SET totp_secret = $2, totp_key_id = $3, totp_last_step = NULL,"
        " totp_reset_at = $4 WHERE login = $1 AND active RETURNING true",
        login,
        secret.ciphertext,
        secret.key_id,
        now,
    )
    return bool(done)


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
