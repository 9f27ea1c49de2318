"""Refused access becomes an audit event, not only a log line (ASVS 7.2.2; issue 13: role
refusals audited): every service writes ``security.access.refused`` to its own outbox, and
auth, which keeps the one security audit log, consumes it from every service (its own too).

Why the outbox and not a plain publish: it is the one way every service already sends
events (the relay, retries, the consumer's idempotency); an event is never lost while the
bus is down, and the request path never waits on the bus. The cost is one small insert per
audited refusal, which is what the limit below bounds.

Without flooding: per (actor, method, route, status) at most one event per window (60 s):
the first refusal is written at once; the later ones in the window are only counted, and
the next event for that key carries them (``count``: the refusals it stands for). Every
refusal still gets its log line (``ebok_shared.http.problems.log_refusal``). Keys are held
in memory, at most ``max_keys``; past that (a flood of distinct anonymous routes is
impossible — routes are the app's own — but of distinct actors is not) a refusal is only
logged. A write that fails is logged and does not change the answer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg
from aiohttp import web

from ..clock import clock
from ..logs import correlation_id_var, get_logger

if TYPE_CHECKING:  # the bus imports the HTTP problems, which import this
    from ..bus.outbox import Outbox

log = get_logger(__name__)

EVENT_TYPE = "security.access.refused"


@dataclass
class _Window:
    opened: dt.datetime
    suppressed: int = 0  # refusals counted, not yet carried by an event


class RefusalAudit:
    def __init__(
        self,
        service: str,
        pool: asyncpg.Pool,
        outbox: Outbox,
        *,
        window: dt.timedelta = dt.timedelta(seconds=60),
        max_keys: int = 10_000,
    ) -> None:
        self.service = service
        self.pool = pool
        self.outbox = outbox
        self.window = window
        self.max_keys = max_keys
        self._windows: dict[tuple[str, str, str, int], _Window] = {}

    def _due(self, key: tuple[str, str, str, int], now: dt.datetime) -> int | None:
        """The count the event to write now stands for, or None (counted, not written)."""
        held = self._windows.get(key)
        if held is not None and now - held.opened < self.window:
            held.suppressed += 1
            return None
        if held is None and len(self._windows) >= self.max_keys:
            self._windows = {k: w for k, w in self._windows.items() if now - w.opened < self.window}
            if len(self._windows) >= self.max_keys:
                return None
        carried = held.suppressed if held is not None else 0
        self._windows[key] = _Window(now)
        return 1 + carried

    async def note(self, *, actor: str, method: str, route: str, status: int, problem: str) -> None:
        count = self._due((actor, method, route, status), clock.now())
        if count is None:
            return
        payload = {
            "service": self.service,
            "actor": actor,
            "method": method,
            "route": route,
            "status": status,
            "problem": problem,
            "count": count,
            "correlation_id": correlation_id_var.get(),
        }
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                await self.outbox.add(conn, EVENT_TYPE, payload, aggregate_key=actor)
        except Exception as exc:  # the refusal's answer must not become a 500
            log.warning("refusal not audited", error=type(exc).__name__, route=route)


REFUSAL_AUDIT = web.AppKey("refusal_audit", RefusalAudit)


async def audit_refusal(
    request: web.Request, *, actor: str, route: str, status: int, problem: str
) -> None:
    """Hand one logged refusal to the app's audit (apps without one: nothing)."""
    audit = request.app.get(REFUSAL_AUDIT)
    if audit is not None:
        await audit.note(
            actor=actor, method=request.method, route=route, status=status, problem=problem
        )
