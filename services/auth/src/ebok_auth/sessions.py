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
from typing import Any

import asyncpg
from ebok_shared.clock import clock
from ebok_shared.logs import correlation_id_var, get_logger

from . import events
from .domain import RESTRICT_PASSWORD, token_hash
from .keys import KeyRing
from .settings import AuthSettings

log = get_logger(__name__)


@dataclass(frozen=True)
class Issued:
    session_id: uuid.UUID
    access_token: str
    refresh_token: str
    expires_in: int
    restrictions: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "refresh_token": self.refresh_token,
            "expires_in": self.expires_in,
            "password_change_required": RESTRICT_PASSWORD in self.restrictions,
            "restrictions": self.restrictions,
        }


@dataclass(frozen=True)
class Grant:
    """Who the tokens are for and what they may do."""

    kind: str  # customer | operator
    subject: str
    roles: list[str]
    restrictions: list[str]


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


async def _new_refresh(conn: asyncpg.Connection, session_id: uuid.UUID) -> str:
    token = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, issued_at) VALUES ($1, $2, $3)",
        token_hash(token),
        session_id,
        clock.now(),
    )
    return token


async def start(
    conn: asyncpg.Connection | asyncpg.Pool,
    keyring: KeyRing,
    settings: AuthSettings,
    grant: Grant,
    *,
    ip: str | None,
) -> Issued:
    """A new session, its first refresh token and the audit entry of the login: one
    statement, so atomic on its own (login is the hot path; argon2 already costs enough)."""
    now = clock.now()
    session_id = uuid.uuid4()
    refresh = secrets.token_urlsafe(32)
    actor = f"{grant.kind}:{grant.subject}"
    await conn.execute(
        """WITH session AS (
               INSERT INTO sessions (id, kind, subject, created_at, last_seen_at, expires_at, ip)
               VALUES ($1, $2, $3, $4, $4, $5, $6) RETURNING id),
           refresh AS (
               INSERT INTO refresh_tokens (token_hash, session_id, issued_at)
               SELECT $7, id, $4 FROM session)
           INSERT INTO audit_log (occurred_at, type, actor, subject, ip, correlation_id)
           VALUES ($4, 'login.succeeded', $8, $3, $6, $9)""",
        session_id,
        grant.kind,
        grant.subject,
        now,
        now + dt.timedelta(seconds=settings.session_max_lifetime),
        ip,
        token_hash(refresh),
        actor,
        correlation_id_var.get(),
    )
    log.info("session started", actor=actor, session_id=str(session_id))
    access, ttl = _access(keyring, grant, session_id)
    return Issued(session_id, access, refresh, ttl, grant.restrictions)


async def reissue(
    conn: asyncpg.Connection, keyring: KeyRing, grant: Grant, session_id: uuid.UUID
) -> Issued:
    """New tokens for a live session (its outstanding refresh tokens are spent): after the
    password was changed or a refresh was accepted."""
    await conn.execute(
        "UPDATE refresh_tokens SET used_at = $2 WHERE session_id = $1 AND used_at IS NULL",
        session_id,
        clock.now(),
    )
    await conn.execute(
        "UPDATE sessions SET last_seen_at = $2 WHERE id = $1", session_id, clock.now()
    )
    refresh = await _new_refresh(conn, session_id)
    access, ttl = _access(keyring, grant, session_id)
    return Issued(session_id, access, refresh, ttl, grant.restrictions)


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
    session_id = await conn.fetchval(
        "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL"
        " RETURNING session_id",
        digest,
        now,
    )
    if session_id is None:
        reused = await conn.fetchval(
            "SELECT session_id FROM refresh_tokens WHERE token_hash = $1", digest
        )
        if reused is not None:
            await revoke(conn, reused, reason="refresh-token-reuse")
            return Spent(None, reused=True)
        return Spent(None)
    session = await conn.fetchrow("SELECT * FROM sessions WHERE id = $1 FOR UPDATE", session_id)
    idle_since = now - dt.timedelta(seconds=settings.session_idle_timeout)
    if session is None or session["revoked_at"] is not None:
        return Spent(None)
    if session["last_seen_at"] < idle_since or session["expires_at"] <= now:
        await revoke(conn, session_id, reason="expired")
        return Spent(None)
    return Spent(session)


def session_uuid(session_id: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(session_id) if session_id else None
    except ValueError:
        return None


async def alive(
    conn: asyncpg.Connection | asyncpg.Pool,
    session_id: str | None,
    kind: str,
    subject: str,
    settings: AuthSettings,
) -> bool:
    """Is the session behind an access token still live (not logged out, revoked by a block,
    deletion or password change, nor expired)? auth checks this on its own routes."""
    sid = session_uuid(session_id)
    if sid is None:
        return False
    now = clock.now()
    return bool(
        await conn.fetchval(
            "SELECT true FROM sessions WHERE id = $1 AND kind = $2 AND subject = $3"
            " AND revoked_at IS NULL AND expires_at > $4 AND last_seen_at > $5",
            sid,
            kind,
            subject,
            now,
            now - dt.timedelta(seconds=settings.session_idle_timeout),
        )
    )


# Access tokens live at most this long (settings refuse more), so the gateway need only
# remember an ended session this long to refuse the tokens already out.
_LONGEST_ACCESS_TOKEN = dt.timedelta(seconds=900)


async def revoke(conn: asyncpg.Connection, session_id: uuid.UUID | None, *, reason: str) -> None:
    rows = await conn.fetch(
        "UPDATE sessions SET revoked_at = $2, revoked_reason = $3"
        " WHERE id = $1 AND revoked_at IS NULL RETURNING id, kind, subject",
        session_id,
        clock.now(),
        reason,
    )
    await _announce_ended(conn, rows, reason)


async def revoke_all(
    conn: asyncpg.Connection,
    kind: str,
    subject: str,
    *,
    reason: str,
    keep: uuid.UUID | None = None,
) -> int:
    rows = await conn.fetch(
        "UPDATE sessions SET revoked_at = $3, revoked_reason = $4"
        " WHERE kind = $1 AND subject = $2 AND revoked_at IS NULL"
        " AND ($5::uuid IS NULL OR id <> $5) RETURNING id, kind, subject",
        kind,
        subject,
        clock.now(),
        reason,
        keep,
    )
    await _announce_ended(conn, rows, reason)
    return len(rows)


async def _announce_ended(
    conn: asyncpg.Connection, rows: list[asyncpg.Record], reason: str
) -> None:
    """Sessions ended early: the gateway refuses their live access tokens at once."""
    if not rows:
        return
    await events.publish(
        conn,
        events.SESSIONS_ENDED,
        {
            "kind": rows[0]["kind"],
            "subject": rows[0]["subject"],
            "session_ids": [str(r["id"]) for r in rows],
            "reason": reason,
            "until": (clock.now() + _LONGEST_ACCESS_TOKEN).isoformat(),
        },
        key=rows[0]["subject"],
    )
