"""Sessions: short-lived signed access tokens plus rotating opaque refresh tokens.

A session is one refresh-token family. Each refresh spends the presented token and issues a
new one; presenting a spent token again means it was stolen (or replayed), so the whole
family is revoked (OAuth 2.0 Security BCP 4.14). A session ends after 30 minutes without a
refresh and 12 hours at most (ASVS 3.3.2 level 2). Refresh tokens are stored as SHA-256.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass

import asyncpg
from ebok_shared.clock import clock
from ebok_shared.logs import correlation_id_var, get_logger
from ebok_shared.refusals import Refusal

from .. import events
from ..domain import Grant, Issued, operator_grant, restrictions_for, session_uuid, token_hash
from ..keys import KeyRing
from ..repository import Conn, accounts, audit, operators, regulations
from ..repository import sessions as repo
from ..settings import AuthSettings
from . import Deps

log = get_logger(__name__)

# Access tokens live at most this long (settings refuse more), so the gateway need only
# remember an ended session this long to refuse the tokens already out.
_LONGEST_ACCESS_TOKEN = dt.timedelta(seconds=900)


def _access(keyring: KeyRing, grant: Grant, session_id: uuid.UUID) -> tuple[str, int]:
    return keyring.sign(
        {
            "sub": grant.subject,
            "kind": grant.kind,
            "sid": str(session_id),
            "roles": grant.roles,
            "restrictions": grant.restrictions,
        }
    )


def _shown_roles(grant: Grant) -> list[str] | None:
    """An operator's roles, in the login and refresh answers too (the token has them)."""
    return grant.roles if grant.kind == "operator" else None


async def start(
    conn: Conn, keyring: KeyRing, settings: AuthSettings, grant: Grant, *, ip: str | None
) -> Issued:
    """A new session, its first refresh token and the audit entry of the login (atomic)."""
    now = clock.now()
    session_id = uuid.uuid4()
    refresh = secrets.token_urlsafe(32)
    actor = f"{grant.kind}:{grant.subject}"
    await repo.start(
        conn,
        session_id=session_id,
        kind=grant.kind,
        subject=grant.subject,
        now=now,
        expires=now + dt.timedelta(seconds=settings.session_max_lifetime),
        ip=ip,
        refresh_hash=token_hash(refresh),
        actor=actor,
        correlation_id=correlation_id_var.get(),
    )
    log.info("session started", actor=actor, session_id=str(session_id))
    access, ttl = _access(keyring, grant, session_id)
    return Issued(session_id, access, refresh, ttl, grant.restrictions, _shown_roles(grant))


async def reissue(
    conn: asyncpg.Connection, keyring: KeyRing, grant: Grant, session_id: uuid.UUID
) -> Issued:
    """New tokens for a live session (its outstanding refresh tokens are spent): after the
    password was changed or a refresh was accepted."""
    await repo.spend_refreshes(conn, session_id, clock.now())
    await repo.touch(conn, session_id, clock.now())
    refresh = secrets.token_urlsafe(32)
    await repo.add_refresh(conn, token_hash(refresh), session_id, clock.now())
    access, ttl = _access(keyring, grant, session_id)
    return Issued(session_id, access, refresh, ttl, grant.restrictions, _shown_roles(grant))


async def load_live(conn: Conn, kind: str, subject: str) -> asyncpg.Record | None:
    """The account behind a session, if it may still use it (active, not blocked/deleted)."""
    if kind == "customer":
        return await accounts.get_live(conn, subject)
    return await operators.get_live(conn, subject)


async def grant_for(conn: Conn, kind: str, row: asyncpg.Record) -> Grant:
    if kind == "customer":
        client = row["client_number"]
        accepted = await regulations.accepted_version(conn, client)
        current = await regulations.current_version(conn, clock.now())
        restrictions = restrictions_for(row["must_change_password"], accepted, current)
        return Grant("customer", client, ["customer"], restrictions)
    return operator_grant(row["login"], list(row["roles"]), row["must_change_password"])


@dataclass(frozen=True)
class Spent:
    """The outcome of presenting a refresh token."""

    session: asyncpg.Record | None  # the live session, locked for update
    reused: bool = False  # a spent token came back: the family was revoked


async def spend_refresh(
    conn: asyncpg.Connection, refresh_token: str, settings: AuthSettings
) -> Spent:
    """Spend ``refresh_token`` (inside the caller's transaction). Returns the session if the
    token was live and its session is neither revoked, idle too long nor past its lifetime."""
    now = clock.now()
    digest = token_hash(refresh_token)
    session_id = await repo.spend_refresh(conn, digest, now)
    if session_id is None:
        reused = await repo.session_of_refresh(conn, digest)
        if reused is not None:
            await revoke(conn, reused, reason="refresh-token-reuse")
            return Spent(None, reused=True)
        return Spent(None)
    session = await repo.get_for_update(conn, session_id)
    idle_since = now - dt.timedelta(seconds=settings.session_idle_timeout)
    if session is None or session["revoked_at"] is not None:
        return Spent(None)
    if session["last_seen_at"] < idle_since or session["expires_at"] <= now:
        await revoke(conn, session_id, reason="expired")
        return Spent(None)
    return Spent(session)


async def revoke(conn: asyncpg.Connection, session_id: uuid.UUID | None, *, reason: str) -> None:
    rows = await repo.revoke(conn, session_id, clock.now(), reason)
    await _announce_ended(conn, rows, reason)


async def revoke_all(
    conn: asyncpg.Connection,
    kind: str,
    subject: str,
    *,
    reason: str,
    keep: uuid.UUID | None = None,
) -> int:
    rows = await repo.revoke_all(conn, kind, subject, clock.now(), reason, keep)
    await _announce_ended(conn, rows, reason)
    return len(rows)


async def _announce_ended(
    conn: asyncpg.Connection, rows: list[asyncpg.Record], reason: str
) -> None:
    """Sessions ended early: the gateway refuses their live access tokens at once."""
    if not rows:
        return
    await events.sessions_ended(
        conn,
        rows[0]["kind"],
        rows[0]["subject"],
        [r["id"] for r in rows],
        reason,
        clock.now() + _LONGEST_ACCESS_TOKEN,
    )


# -- actions ---------------------------------------------------------------------------------


async def is_alive(
    pool: asyncpg.Pool, session_id: str | None, kind: str, subject: str, settings: AuthSettings
) -> bool:
    """Is the session behind an access token still live (not logged out, revoked by a block,
    deletion or password change, nor expired)? auth checks this on its own routes."""
    sid = session_uuid(session_id)
    if sid is None:
        return False
    now = clock.now()
    return await repo.alive(pool, sid, kind, subject, now, seen_since(now, settings))


def seen_since(now: dt.datetime, settings: AuthSettings) -> dt.datetime:
    """A live session was used after this moment (the idle timeout before ``now``)."""
    return now - dt.timedelta(seconds=settings.session_idle_timeout)


async def refresh(deps: Deps, refresh_token: str, ip: str) -> Issued:
    issued = None
    async with deps.pool.acquire() as conn, conn.transaction():
        spent = await spend_refresh(conn, refresh_token, deps.settings)
        session = spent.session
        if spent.reused:
            await audit.record(conn, "session.refresh_reused", actor="anonymous", ip=ip)
        elif session is not None:
            row = await load_live(conn, session["kind"], session["subject"])
            if row is None:  # blocked or deleted meanwhile
                await revoke(conn, session["id"], reason="account-unavailable")
            else:
                grant = await grant_for(conn, session["kind"], row)
                issued = await reissue(conn, deps.keyring, grant, session["id"])
    if issued is None:  # committed first: a reused token's family stays revoked
        raise Refusal(
            401,
            "invalid-refresh-token",
            "Sesja wygasła lub została zakończona. Zaloguj się ponownie.",
        )
    return issued


async def log_out(
    pool: asyncpg.Pool, kind: str, subject: str, session_id: str | None, ip: str
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await revoke(conn, session_uuid(session_id), reason="logout")
        await audit.record(conn, "logout", actor=f"{kind}:{subject}", subject=subject, ip=ip)
