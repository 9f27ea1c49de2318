"""Regulations (terms) versions, what changed between them, and every acceptance (IV.2).

Version 1 is the text in ``data/regulamin-v1.txt``, seeded at start-up as in force since a
fixed past date. A new version is published by an admin at least the notice period ahead;
from its effective date a customer who has not accepted it gets a restricted token.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import asyncpg
from ebok_shared.clock import LOCAL_TZ, clock
from ebok_shared.http.problems import Problem

from . import audit, events
from .domain import changed_clauses

SEED_TEXT = Path(__file__).parent / "data" / "regulamin-v1.txt"
SEED_EFFECTIVE_FROM = dt.datetime(2020, 1, 1, tzinfo=LOCAL_TZ)


async def seed(pool: asyncpg.Pool) -> None:
    """Version 1, once (replicas starting together insert it once)."""
    await pool.execute(
        "INSERT INTO regulations (version, body, summary, effective_from, published_at,"
        " published_by) VALUES (1, $1, $2, $3, $3, 'system') ON CONFLICT (version) DO NOTHING",
        SEED_TEXT.read_text("utf-8"),
        "Pierwsza wersja regulaminu e-BOK.",
        SEED_EFFECTIVE_FROM,
    )


def _view(row: asyncpg.Record, *, with_body: bool = True) -> dict[str, Any]:
    view = {
        "version": row["version"],
        "effective_from": row["effective_from"].isoformat(),
        "published_at": row["published_at"].isoformat(),
        "summary": row["summary"],
    }
    if with_body:
        view["body"] = row["body"]
    return view


async def current(pool: asyncpg.Pool) -> dict[str, Any]:
    """The version in force and, if one is published but not yet in force, its header."""
    now = clock.now()
    row = await pool.fetchrow(
        "SELECT * FROM regulations WHERE effective_from <= $1 ORDER BY version DESC LIMIT 1", now
    )
    if row is None:
        raise Problem(404, "Brak opublikowanego regulaminu.")
    upcoming = await pool.fetchrow(
        "SELECT * FROM regulations WHERE effective_from > $1 ORDER BY version DESC LIMIT 1", now
    )
    return {**_view(row), "upcoming": _view(upcoming, with_body=False) if upcoming else None}


async def version(pool: asyncpg.Pool, number: int) -> dict[str, Any]:
    row = await pool.fetchrow("SELECT * FROM regulations WHERE version = $1", number)
    if row is None:
        raise Problem(404, f"Nie ma wersji {number} regulaminu.")
    return _view(row)


async def changes(pool: asyncpg.Pool, number: int) -> dict[str, Any]:
    """The clauses that changed in ``number`` against the version before, side by side."""
    rows = await pool.fetch(
        "SELECT version, body FROM regulations WHERE version IN ($1, $1 - 1) ORDER BY version",
        number,
    )
    if not rows or rows[-1]["version"] != number:
        raise Problem(404, f"Nie ma wersji {number} regulaminu.")
    previous = rows[0] if len(rows) == 2 else None
    return {
        "version": number,
        "previous_version": previous["version"] if previous else None,
        "changes": changed_clauses(previous["body"] if previous else "", rows[-1]["body"]),
    }


async def record_acceptance(
    conn: asyncpg.Connection, client: str, number: int, ip: str, context: str
) -> dt.datetime:
    """Evidence of acceptance: version, time, IP. Every acceptance is kept."""
    now = clock.now()
    await conn.execute(
        "INSERT INTO regulations_acceptances (client_number, version, accepted_at, ip, context)"
        " VALUES ($1, $2, $3, $4, $5)",
        client,
        number,
        now,
        ip,
        context,
    )
    return now


async def publish(
    conn: asyncpg.Connection,
    *,
    body: str,
    summary: str,
    effective_from: dt.datetime,
    by: str,
    notice_days: int,
    ip: str,
) -> dict[str, Any]:
    if effective_from < clock.now() + dt.timedelta(days=notice_days):
        raise Problem(
            422,
            f"Nowa wersja może obowiązywać najwcześniej za {notice_days} dni od publikacji "
            "(użytkownicy muszą zostać powiadomieni z wyprzedzeniem).",
            code="validation",
            errors=[
                {"field": "effective_from", "reason": f"co najmniej {notice_days} dni od dziś"}
            ],
        )
    await conn.execute("LOCK TABLE regulations IN SHARE ROW EXCLUSIVE MODE")  # versions in order
    previous = await conn.fetchrow("SELECT * FROM regulations ORDER BY version DESC LIMIT 1")
    if previous is not None and effective_from <= previous["effective_from"]:
        raise Problem(
            422,
            "Nowa wersja musi obowiązywać później niż poprzednia.",
            code="validation",
            errors=[{"field": "effective_from", "reason": "wcześniej niż poprzednia"}],
        )
    number = (previous["version"] if previous else 0) + 1
    now = clock.now()
    await conn.execute(
        "INSERT INTO regulations (version, body, summary, effective_from, published_at,"
        " published_by) VALUES ($1, $2, $3, $4, $5, $6)",
        number,
        body,
        summary,
        effective_from,
        now,
        by,
    )
    changed = [c["clause"] for c in changed_clauses(previous["body"] if previous else "", body)]
    await events.publish(
        conn,
        events.REGULATIONS_PUBLISHED,
        {
            "version": number,
            "effective_from": effective_from.isoformat(),
            "summary": summary,
            "changed_clauses": changed[:200],
        },
        key="regulations",
    )
    await audit.record(
        conn,
        "regulations.published",
        actor=by,
        ip=ip,
        version=number,
        effective_from=effective_from.isoformat(),
    )
    return {
        "version": number,
        "effective_from": effective_from.isoformat(),
        "published_at": now.isoformat(),
        "summary": summary,
        "changed_clauses": changed,
    }
