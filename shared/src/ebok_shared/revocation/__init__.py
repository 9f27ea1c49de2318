"""Access tokens revoked before they expire, refused by every service and the gateway alike.

A token is revoked when its account is blocked or deleted (every token of that subject issued
up to that moment: an operator's block, a contract-end block, an erasure) or its session
ended early (logout, password change or reset, refresh-token reuse: auth's
``auth.sessions.ended``). Auth's events reach one replica of each component (its queue); that
replica writes the revocation to the component's own database, and ``NOTIFY`` on commit tells
every replica, which reloads its in-memory copy — so each component refuses a revoked token
within a second, without asking auth on every request. Replicas also reload on (re)connect,
so a missed notification is never a lasting gap.

The shared app factory wires it into every component (``ServiceSpec.revocations``): the
subscriptions (added to the component's own for the same events, in one transaction), the
listener and the middleware after authentication.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Handler as HttpHandler

from ..bus import Event, Subscription
from ..bus.consumer import BatchHandler, Handler
from ..clock import clock
from ..http.problems import Problem
from ..http.tokens import PRINCIPAL
from ..loops import listen, running
from . import repository
from .repository import REVOCATION_NOTIFY

__all__ = [
    "REVOCATIONS",
    "REVOCATION_NOTIFY",
    "Revocations",
    "following",
    "prune",
    "revocation_middleware",
    "with_revocations",
]


@dataclass
class Revocations:
    subjects: dict[str, dt.datetime] = field(default_factory=dict)
    sessions: set[str] = field(default_factory=set)
    loaded: asyncio.Event = field(default_factory=asyncio.Event)

    async def reload(self, conn: asyncpg.Connection | asyncpg.Pool) -> None:
        subjects, sessions = await repository.revocations(conn, clock.now())
        self.subjects = {r["subject"]: r["revoked_before"] for r in subjects}
        self.sessions = {r["session_id"] for r in sessions}
        self.loaded.set()

    def is_revoked(self, subject_key: str, session_id: str | None, issued_at: dt.datetime) -> bool:
        """A token counts as issued before a block if its whole second (``iat``) is: one
        issued in the block's own second may be from just after it (an unblock and a new
        login), and one from just before it has a session the block ended (auth announces
        every session it ends, so it is refused by its session id)."""
        before = self.subjects.get(subject_key)
        if before is not None and issued_at < before.replace(microsecond=0):
            return True
        return session_id is not None and session_id in self.sessions


REVOCATIONS = web.AppKey("revocations", Revocations)


@web.middleware
async def revocation_middleware(request: web.Request, handler: HttpHandler) -> web.StreamResponse:
    """After authentication: a revoked token is 401, whatever route it asks."""
    principal = request.get(PRINCIPAL)
    if principal is not None and principal.kind != "service":
        issued_at = dt.datetime.fromtimestamp(principal.claims["iat"], dt.UTC)
        subject_key = f"{principal.kind}:{principal.subject}"
        if request.app[REVOCATIONS].is_revoked(subject_key, principal.session_id, issued_at):
            raise Problem(
                401,
                "Sesja została zakończona. Zaloguj się ponownie.",
                code="session-revoked",
                headers={"WWW-Authenticate": "Bearer"},
            )
    return await handler(request)


@contextlib.asynccontextmanager
async def following(revocations: Revocations, dsn: str, pool: asyncpg.Pool) -> AsyncIterator[None]:
    """``revocations`` kept current while the block runs: loaded before it starts, reloaded
    on every notification and reconnect."""
    follow = listen("revocations", dsn, (REVOCATION_NOTIFY,), lambda: revocations.reload(pool))
    async with running("revocations", follow):
        await asyncio.wait_for(revocations.loaded.wait(), timeout=30)
        yield


# -- the events ------------------------------------------------------------------------------


async def account_closed(conn: asyncpg.Connection, event: Event) -> None:
    """Blocked or deleted: tokens issued up to this moment are refused from now on."""
    subject = f"customer:{event.payload['client_number']}"
    await repository.revoke_subject(conn, subject, event.occurred_at, event.type)


async def sessions_ended(conn: asyncpg.Connection, event: Event) -> None:
    until = dt.datetime.fromisoformat(event.payload["until"])
    await repository.revoke_sessions(conn, [str(s) for s in event.payload["session_ids"]], until)


REVOKING: dict[tuple[str, int], Handler] = {
    ("auth.account.blocked", 1): account_closed,
    ("auth.account.deleted", 1): account_closed,
    ("auth.sessions.ended", 1): sessions_ended,
}


def with_revocations(subscriptions: Sequence[Subscription]) -> list[Subscription]:
    """``subscriptions`` plus the revoking ones; where the component takes one of those
    events itself, one handler does both, revocation first, in the same transaction."""
    own = {(s.event_type, s.version): s for s in subscriptions}
    result = [s for s in subscriptions if (s.event_type, s.version) not in REVOKING]
    for (event_type, version), revoke in REVOKING.items():
        result.append(_both(event_type, version, revoke, own.get((event_type, version))))
    return result


def _both(
    event_type: str, version: int, revoke: Handler, theirs: Subscription | None
) -> Subscription:
    if theirs is None:
        return Subscription(event_type, revoke, version)
    if theirs.batched:
        # Subscription.handler is a union; `batched` says which one it is
        batch: BatchHandler = theirs.handler  # type: ignore[assignment]

        async def revoke_then_batch(conn: asyncpg.Connection, events: list[Event]) -> None:
            for event in events:
                await revoke(conn, event)
            await batch(conn, events)

        return Subscription(event_type, revoke_then_batch, version, batched=True)
    # Subscription.handler is a union; not `batched`, so a single handler
    single: Handler = theirs.handler  # type: ignore[assignment]

    async def revoke_then_handle(conn: asyncpg.Connection, event: Event) -> None:
        await revoke(conn, event)
        await single(conn, event)

    return Subscription(event_type, revoke_then_handle, version)


async def prune(pool: asyncpg.Pool) -> None:
    await repository.prune(pool, clock.now())
