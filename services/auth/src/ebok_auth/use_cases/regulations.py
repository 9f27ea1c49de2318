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
from ebok_shared.refusals import Refusal, not_found

from .. import events
from ..domain import changed_clauses
from ..repository import audit
from ..repository import regulations as repo

SEED_TEXT = Path(__file__).parent.parent / "data" / "regulamin-v1.txt"
SEED_EFFECTIVE_FROM = dt.datetime(2020, 1, 1, tzinfo=LOCAL_TZ)


async def seed(pool: asyncpg.Pool) -> None:
    """Version 1, once (replicas starting together insert it once)."""
    await repo.seed(
        pool, SEED_TEXT.read_text("utf-8"), "Pierwsza wersja regulaminu e-BOK.", SEED_EFFECTIVE_FROM
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
    row = await repo.in_force(pool, now)
    if row is None:
        raise not_found("Brak opublikowanego regulaminu.")
    upcoming = await repo.upcoming(pool, now)
    return {**_view(row), "upcoming": _view(upcoming, with_body=False) if upcoming else None}


async def version(pool: asyncpg.Pool, number: int) -> dict[str, Any]:
    row = await repo.get(pool, number)
    if row is None:
        raise not_found(f"Nie ma wersji {number} regulaminu.")
    return _view(row)


async def changes(pool: asyncpg.Pool, number: int) -> dict[str, Any]:
    """The clauses that changed in ``number`` against the version before, side by side."""
    rows = await repo.with_previous(pool, number)
    if not rows or rows[-1]["version"] != number:
        raise not_found(f"Nie ma wersji {number} regulaminu.")
    previous = rows[0] if len(rows) == 2 else None
    return {
        "version": number,
        "previous_version": previous["version"] if previous else None,
        "changes": changed_clauses(previous["body"] if previous else "", rows[-1]["body"]),
    }


async def preview(pool: asyncpg.Pool, body: str, notice_days: int) -> dict[str, Any]:
    """A draft against the latest published version, clause by clause, side by side (nothing
    is stored), and the earliest date it could come into force."""
    latest = await repo.latest(pool)
    return {
        "based_on_version": latest["version"] if latest else None,
        "changes": changed_clauses(latest["body"] if latest else "", body),
        "earliest_effective_from": (clock.now() + dt.timedelta(days=notice_days)).isoformat(),
        "notice_days": notice_days,
    }


async def accept(pool: asyncpg.Pool, client: str, number: int, ip: str) -> dict[str, Any]:
    """Evidence of acceptance: version, time, IP (every acceptance is kept). The restriction
    lifts with the next token: the client refreshes its session."""
    current_version = await repo.current_version(pool, clock.now())
    if not await repo.exists(pool, number) or number < current_version:
        raise Refusal(
            422,
            "validation",
            f"Można zaakceptować wersję {current_version} regulaminu lub nowszą opublikowaną.",
            field="version",
            reason="nieaktualna lub nieznana wersja",
        )
    async with pool.acquire() as conn, conn.transaction():
        accepted_at = clock.now()
        await repo.add_acceptance(conn, client, number, accepted_at, ip, "session")
        await audit.record(
            conn,
            "regulations.accepted",
            actor=f"customer:{client}",
            subject=client,
            ip=ip,
            version=number,
        )
    return {"version": number, "accepted_at": accepted_at.isoformat()}


async def publish(
    pool: asyncpg.Pool,
    *,
    body: str,
    summary: str,
    effective_from: dt.datetime,
    by: str,
    notice_days: int,
    ip: str,
) -> dict[str, Any]:
    if effective_from < clock.now() + dt.timedelta(days=notice_days):
        raise Refusal(
            422,
            "validation",
            f"Nowa wersja może obowiązywać najwcześniej za {notice_days} dni od publikacji "
            "(użytkownicy muszą zostać powiadomieni z wyprzedzeniem).",
            field="effective_from",
            reason=f"co najmniej {notice_days} dni od dziś",
        )
    async with pool.acquire() as conn, conn.transaction():
        await repo.lock_versions(conn)
        previous = await repo.latest(conn)
        if previous is not None and effective_from <= previous["effective_from"]:
            raise Refusal(
                422,
                "validation",
                "Nowa wersja musi obowiązywać później niż poprzednia.",
                field="effective_from",
                reason="wcześniej niż poprzednia",
            )
        number = (previous["version"] if previous else 0) + 1
        now = clock.now()
        await repo.insert(
            conn,
            version=number,
            body=body,
            summary=summary,
            effective_from=effective_from,
            now=now,
            by=by,
        )
        before = previous["body"] if previous else ""
        changed = [str(c["clause"]) for c in changed_clauses(before, body)]
        await events.regulations_published(conn, number, effective_from, summary, changed)
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
