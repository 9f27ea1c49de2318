"""The security audit log as operators read it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg
from ebok_shared.bus import Event
from ebok_shared.logs import get_logger

from ..audit_seal import AuditSeal
from ..repository import audit as repo

log = get_logger(__name__)


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


async def verify_chain(pool: asyncpg.Pool, seal: AuditSeal) -> dict[str, Any]:
    """Recompute the audit log's chain and check every row's seal: the first row that does
    not hold (None: intact) and why, and the chain's head (its id and hash, to be compared
    with a copy kept elsewhere). A row rebuilt with its hash recomputed (the SHA-256 chain
    intact) still fails here: its seal cannot be made without the key."""
    broken: tuple[int, str] | None = None
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        async for row in repo.chain(conn):
            why = _fault(row, seal)
            if why is not None:
                broken = (row["id"], why)
                break
        head = await repo.head(conn)
    return {
        "first_broken_id": broken[0] if broken else None,
        "why": broken[1] if broken else None,
        "head_id": head["id"] if head else None,
        "head_hash": head["row_hash"].hex() if head else None,
    }


def _fault(row: asyncpg.Record, seal: AuditSeal) -> str | None:
    if row["row_hash"] != row["recomputed"]:
        return "its hash does not match its content"
    if row["n"] > 1 and row["prev_hash"] != row["before"]:
        return "its link does not match the row before it"
    if row["mac"] is None:
        return "it has no seal"
    if not seal.knows(row["key_id"]):
        return f"its seal's key {row['key_id']!r} is not in EBOK_AUDIT_KEYS"
    if not seal.holds(row["key_id"], row["row_hash"], row["mac"]):
        return "its seal does not match (rebuilt without the key)"
    return None


async def access_refused(conn: asyncpg.Connection, event: Event) -> None:
    """A refusal from any service (``security.access.refused``): one audit row, the account
    concerned being the actor's own (a customer's or operator's); ``count`` says how many
    refusals of that actor on that route it stands for (the publisher's per-minute limit)."""
    p = event.payload
    kind, _, who = str(p["actor"]).partition(":")
    await repo.record(
        conn,
        "access.refused",
        actor=p["actor"],
        subject=who if kind in ("customer", "operator") and who else None,
        service=p["service"],
        method=p["method"],
        route=p["route"],
        status=p["status"],
        problem=p["problem"],
        count=p["count"],
    )


def install_seal(seal: AuditSeal) -> None:
    """Every audit row this process writes from now on is sealed with ``seal``'s current key."""
    repo.use_seal(seal.seal)


async def seal_unsealed(pool: asyncpg.Pool, seal: AuditSeal) -> int:
    """Rows written before the log was sealed (migration 0005): sealed once, at the first
    start with keys — only while no row has a seal yet (later, an unsealed row is a row
    written past auth, which must stay a finding) and only if their SHA-256 chain holds."""
    async with pool.acquire() as conn, conn.transaction():
        if await repo.any_sealed(conn):
            return 0
        rows = await repo.unsealed(conn)
        if not rows:
            return 0
        broken = await repo.first_broken(conn)
        if broken is not None:
            log.error("audit rows left unsealed: their hash chain is broken", row=broken)
            return 0
        install_seal(seal)
        for row in rows:
            await repo.seal_row(conn, row["id"], row["row_hash"])
    return len(rows)
