"""The security audit log as operators read it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg

from ..repository import audit as repo


@dataclass(frozen=True)
class Filter:
    subject: str | None
    type: str | None
    actor: str | None
    since: dt.datetime | None
    until: dt.datetime | None
    before_id: int | None
    limit: int


async def entries(pool: asyncpg.Pool, wanted: Filter) -> dict[str, Any]:
    """Newest first; ``next_before_id`` (the last item's id) fetches the next page."""
    rows = await repo.query(
        pool,
        subject=wanted.subject,
        type=wanted.type,
        actor=wanted.actor,
        since=wanted.since,
        until=wanted.until,
        before_id=wanted.before_id,
        limit=wanted.limit,
    )
    items = [{**dict(r), "occurred_at": r["occurred_at"].isoformat()} for r in rows]
    return {
        "items": items,
        "next_before_id": items[-1]["id"] if len(items) == wanted.limit else None,
    }


async def verify_chain(pool: asyncpg.Pool) -> dict[str, Any]:
    """Recompute the audit log's hash chain: the first row that does not match (None:
    intact) and the chain's head (its id and hash, to be compared with a copy kept elsewhere)."""
    broken = await repo.first_broken(pool)
    head = await repo.head(pool)
    return {
        "first_broken_id": broken,
        "head_id": head["id"] if head else None,
        "head_hash": head["row_hash"].hex() if head else None,
    }
