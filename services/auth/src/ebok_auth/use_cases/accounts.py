"""Customer accounts: reading them (the customer's own view, the operators' search), and the
state changes that end access (block, unblock, delete), each with its event and audit entry
in one transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg
from ebok_shared.clock import clock
from ebok_shared.refusals import Refusal, conflict, not_found

from .. import events
from ..domain import retain_until, session_ended, session_uuid
from ..repository import accounts as repo
from ..repository import audit, projection, regulations
from ..repository import sessions as session_rows
from ..repository import throttle as throttle_rows
from ..settings import AuthSettings
from . import Deps, sessions, throttle

MAX_PAGE = 100


# -- steps shared by several actions (inside the caller's transaction) ----------------------


async def block(
    conn: asyncpg.Connection, client: str, *, reason: str, by: str, ip: str | None = None
) -> bool:
    """Block an active account: its sessions end now and the gateway is told. False if there
    was no active account to block."""
    email = await repo.block(conn, client, reason, by, clock.now())
    if email is None:
        return False
    await sessions.revoke_all(conn, "customer", client, reason="account-blocked")
    await events.blocked(conn, client, email, reason, by)
    await audit.record(conn, "account.blocked", actor=by, subject=client, ip=ip, reason=reason)
    return True


async def unblock(
    conn: asyncpg.Connection, client: str, *, reason: str, by: str, ip: str | None = None
) -> bool:
    email = await repo.unblock(conn, client)
    if email is None:
        return False
    await events.unblocked(conn, client, email, reason, by)
    await audit.record(conn, "account.unblocked", actor=by, subject=client, ip=ip, reason=reason)
    return True


async def erase(
    conn: asyncpg.Connection,
    client: str,
    *,
    by: str,
    retention_years: int,
    ip: str | None = None,
    reason: str | None = None,
) -> bool:
    """Terms II.6 / GDPR art. 17: credentials and personal data go now (cascading to tokens,
    recovery codes), sessions end, every other service is told to erase or unlink. Kept: the
    regulations acceptances (evidence, until ``retention_years`` from now) and the audit log,
    pseudonymised (its link from the client number to the pseudonym is erased)."""
    if not await repo.delete(conn, client):
        return False
    # Announced before the rows go: every component refuses their live tokens at once.
    await sessions.revoke_all(conn, "customer", client, reason="account-deleted")
    await session_rows.delete_customer(conn, client)
    await throttle_rows.clear(conn, "customer", client)
    await projection.delete_blocks(conn, [client])
    await regulations.retain_acceptances(conn, client, retain_until(clock.today(), retention_years))
    await events.deleted(conn, client)
    details: dict[str, Any] = {"reason": reason} if reason else {}
    await audit.record(conn, "account.deleted", actor=by, subject=client, ip=ip, **details)
    # Last: from now on the audit log's entries of this account carry only a pseudonym.
    await audit.forget_subject(conn, client)
    return True


async def own_account(pool: asyncpg.Pool, client: str) -> asyncpg.Record:
    """The signed-in customer's account (gone: the session has nothing left to act on)."""
    row = await repo.get(pool, client)
    if row is None:
        raise session_ended("Konto nie istnieje.")
    return row


async def verify_current_password(
    deps: Deps, kind: str, subject: str, stored: str | None, password: str, ip: str
) -> None:
    """A wrong current password counts toward the lockout: a stolen access token must not
    become a password-guessing oracle."""
    if await deps.hasher.verify(stored, password):
        return
    async with deps.pool.acquire() as conn, conn.transaction():
        await throttle.record_failure(conn, kind, subject, deps.settings)
        await audit.record(
            conn,
            "password.verification_failed",
            actor=f"{kind}:{subject}",
            subject=subject,
            ip=ip,
        )
    raise Refusal(
        422,
        "validation",
        "Obecne hasło jest nieprawidłowe.",
        field="current_password",
        reason="nieprawidłowe hasło",
    )


# -- the customer's own view -------------------------------------------------------------------


async def me(
    pool: asyncpg.Pool, client: str, session_id: str | None, settings: AuthSettings
) -> dict[str, Any] | None:
    """The customer's own view, read in one statement with the liveness of the caller's
    session (``repo.own_view``): None if the session is not live (as ``sessions.is_alive``
    would say, checked first: a deleted account's sessions have ended)."""
    sid = session_uuid(session_id)
    if sid is None:
        return None
    now = clock.now()
    row = await repo.own_view(
        pool, client, now, sid, "customer", sessions.seen_since(now, settings)
    )
    if not row["session_alive"]:
        return None
    if row["client_number"] is None:
        raise session_ended("Konto nie istnieje.")
    block_on = row["block_on"]
    return {
        "client_number": row["client_number"],
        "email": row["email"],
        "status": row["status"],
        "created_at": row["created_at"].isoformat(),
        "activated_at": row["activated_at"].isoformat() if row["activated_at"] else None,
        "password_changed_at": (
            row["password_changed_at"].isoformat() if row["password_changed_at"] else None
        ),
        "totp_enabled": row["totp_secret"] is not None,
        "regulations": {
            "accepted_version": row["accepted_version"],
            "current_version": row["current_version"],
            # published and not yet in force (terms IV.2): what the customer will be asked
            "upcoming": (
                {
                    "version": row["upcoming_version"],
                    "effective_from": row["upcoming_effective_from"].isoformat(),
                    "summary": row["upcoming_summary"],
                }
                if row["upcoming_version"] is not None
                else None
            ),
        },
        # the last contract ended: the account is blocked on this day (terms II.7)
        "block_scheduled_on": block_on.isoformat() if block_on else None,
    }


# -- operators' actions on accounts (terms II.6–7, IV.3) -------------------------------------


def _account_view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "client_number": row["client_number"],
        "email": row["email"],
        "status": row["status"],
        "created_at": row["created_at"].isoformat(),
        "activated_at": row["activated_at"].isoformat() if row["activated_at"] else None,
        "last_login_at": row["last_login_at"].isoformat() if row["last_login_at"] else None,
        "blocked_reason": row["blocked_reason"],
        "blocked_by": row["blocked_by"],
        "blocked_at": row["blocked_at"].isoformat() if row["blocked_at"] else None,
        "totp_enabled": row["totp_secret"] is not None,
    }


@dataclass(frozen=True)
class Search:
    text: str  # a client number prefix or an e-mail fragment
    status: str | None
    limit: int
    offset: int


async def search(pool: asyncpg.Pool, query: Search) -> dict[str, Any]:
    """By client number prefix or e-mail fragment, and status; paged."""
    pattern = query.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = await repo.search(pool, pattern, query.status, query.limit, query.offset)
    return {
        "items": [_account_view(r) for r in rows],
        "total": rows[0]["total"] if rows else 0,
        "limit": query.limit,
        "offset": query.offset,
    }


RECENT = 20  # sessions and audit entries an account's view shows


async def view(
    pool: asyncpg.Pool, client: str, *, operator: str, ip: str, idle_timeout: int
) -> dict[str, Any]:
    """The account as customer service sees it: its state, its live sessions and its most
    recent audit entries (the full log: the audit route, filtered by subject)."""
    row = await repo.get_with_last_login(pool, client)
    if row is None:
        raise not_found("Nie ma takiego konta.")
    now = clock.now()
    live = await session_rows.live_of(
        pool, "customer", client, now, now - dt.timedelta(seconds=idle_timeout), RECENT
    )
    recent = await audit.query(
        pool,
        subject=client,
        type=None,
        actor=None,
        since=None,
        until=None,
        before_id=None,
        limit=RECENT,
    )
    # Operators reading a customer's account is itself accountable (GDPR art. 5(2)).
    await audit.record(
        pool, "operator.account_viewed", actor=f"operator:{operator}", subject=client, ip=ip
    )
    block_on = await projection.block_date(pool, client)
    return {
        **_account_view(row),
        "block_scheduled_on": block_on.isoformat() if block_on else None,
        "sessions": [
            {
                "id": str(s["id"]),
                "started_at": s["created_at"].isoformat(),
                "last_seen_at": s["last_seen_at"].isoformat(),
                "expires_at": s["expires_at"].isoformat(),
                "ip": s["ip"],
            }
            for s in live
        ],
        "recent_audit": [{**dict(r), "occurred_at": r["occurred_at"].isoformat()} for r in recent],
    }


async def block_by_operator(
    pool: asyncpg.Pool, client: str, *, reason: str, operator: str, ip: str
) -> None:
    """Terms IV.3: use contrary to the regulations or the law; the reason is required."""
    async with pool.acquire() as conn, conn.transaction():
        done = await block(conn, client, reason=reason, by=f"operator:{operator}", ip=ip)
    if not done:
        raise conflict("not-active", "Konto nie istnieje albo nie jest aktywne.")


async def unblock_by_operator(
    pool: asyncpg.Pool, client: str, *, reason: str, operator: str, ip: str
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        done = await unblock(conn, client, reason=reason, by=f"operator:{operator}", ip=ip)
    if not done:
        raise conflict("not-blocked", "Konto nie istnieje albo nie jest zablokowane.")


async def delete_by_operator(
    deps: Deps, client: str, *, reason: str, operator: str, ip: str
) -> None:
    """Terms II.6: on the customer's request (the reason records the request)."""
    async with deps.pool.acquire() as conn, conn.transaction():
        done = await erase(
            conn,
            client,
            by=f"operator:{operator}",
            retention_years=deps.settings.acceptance_retention_years,
            ip=ip,
            reason=reason,
        )
    if not done:
        raise not_found("Nie ma takiego konta.")
