"""Regulations versions and every acceptance (tables ``regulations``,
``regulations_acceptances``)."""

from __future__ import annotations

import datetime as dt

import asyncpg

from . import Conn


async def seed(conn: Conn, body: str, summary: str, effective_from: dt.datetime) -> None:
    """Version 1, once (replicas starting together insert it once)."""
    await conn.execute(
        "INSERT INTO regulations (version, body, summary, effective_from, published_at,"
        " published_by) VALUES (1, $1, $2, $3, $3, 'system') ON CONFLICT (version) DO NOTHING",
        body,
        summary,
        effective_from,
    )


async def current_version(conn: Conn, now: dt.datetime) -> int:
    """The version in force now (the newest whose effective date has come); 0 if none."""
    return await conn.fetchval(
        "SELECT coalesce(max(version), 0) FROM regulations WHERE effective_from <= $1", now
    )


async def in_force(conn: Conn, now: dt.datetime) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM regulations WHERE effective_from <= $1 ORDER BY version DESC LIMIT 1", now
    )


async def upcoming(conn: Conn, now: dt.datetime) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM regulations WHERE effective_from > $1 ORDER BY version DESC LIMIT 1", now
    )


async def get(conn: Conn, version: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM regulations WHERE version = $1", version)


async def exists(conn: Conn, version: int) -> bool:
    return bool(await conn.fetchval("SELECT true FROM regulations WHERE version = $1", version))


async def with_previous(conn: Conn, version: int) -> list[asyncpg.Record]:
    """The version and the one before (those that exist), oldest first."""
    return await conn.fetch(
        "SELECT version, body FROM regulations WHERE version IN ($1, $1 - 1) ORDER BY version",
        version,
    )


async def lock_versions(conn: Conn) -> None:
    """Publishers take turns, so versions are numbered in order."""
    await conn.execute("LOCK TABLE regulations IN SHARE ROW EXCLUSIVE MODE")


async def latest(conn: Conn) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM regulations ORDER BY version DESC LIMIT 1")


async def insert(
    conn: Conn,
    *,
    version: int,
    body: str,
    summary: str,
    effective_from: dt.datetime,
    now: dt.datetime,
    by: str,
) -> None:
    await conn.execute(
        "INSERT INTO regulations (version, body, summary, effective_from, published_at,"
        " published_by) VALUES ($1, $2, $3, $4, $5, $6)",
        version,
        body,
        summary,
        effective_from,
        now,
        by,
    )


# -- acceptances -------------------------------------------------------------------------


async def accepted_version(conn: Conn, client: str) -> int:
    """The newest version the client accepted; 0 if none."""
    return await conn.fetchval(
        "SELECT coalesce(max(version), 0) FROM regulations_acceptances WHERE client_number = $1",
        client,
    )


async def add_acceptance(
    conn: Conn, client: str, version: int, now: dt.datetime, ip: str, context: str
) -> None:
    await conn.execute(
        "INSERT INTO regulations_acceptances (client_number, version, accepted_at, ip, context)"
        " VALUES ($1, $2, $3, $4, $5)",
        client,
        version,
        now,
        ip,
        context,
    )


async def retain_acceptances(conn: Conn, client: str, until: dt.date) -> None:
    await conn.execute(
        "UPDATE regulations_acceptances SET retain_until = $2 WHERE client_number = $1",
        client,
        until,
    )


async def delete_unretained_acceptances(conn: Conn, clients: list[str]) -> None:
    """Acceptances of registrations that never became accounts (those kept as evidence from
    an earlier, deleted account have retain_until set and stay)."""
    await conn.execute(
        "DELETE FROM regulations_acceptances WHERE client_number = ANY($1::text[])"
        " AND retain_until IS NULL",
        clients,
    )


async def export_acceptances(conn: Conn, client: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT version, accepted_at, ip, context FROM regulations_acceptances"
        " WHERE client_number = $1 ORDER BY id",
        client,
    )


async def prune_acceptances(conn: Conn, today: dt.date) -> None:
    await conn.execute("DELETE FROM regulations_acceptances WHERE retain_until < $1", today)
