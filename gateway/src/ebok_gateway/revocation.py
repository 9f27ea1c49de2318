"""Tokens revoked before they expire: an account blocked or deleted (every token of the
subject issued before that moment) and sessions ended by logout.

Auth's events reach one gateway replica (the service's queue); that replica writes the
revocation to the gateway's database and NOTIFY on commit tells every replica, which
updates its in-memory copy at once — so a revoked token is refused everywhere within a
second. Replicas also reload everything on (re)connect, so a missed notification is never
a lasting gap.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import asyncpg
from ebok_shared.clock import clock

from . import repository


@dataclass
class Revocations:
    subjects: dict[str, dt.datetime] = field(default_factory=dict)
    sessions: set[str] = field(default_factory=set)

    @classmethod
    async def load(cls, conn: asyncpg.Connection | asyncpg.Pool) -> Revocations:
        subjects, sessions = await repository.revocations(conn, clock.now())
        return cls(
            {r["subject"]: r["revoked_before"] for r in subjects},
            {r["session_id"] for r in sessions},
        )

    def is_revoked(self, subject_key: str, session_id: str | None, issued_at: dt.datetime) -> bool:
        before = self.subjects.get(subject_key)
        if before is not None and issued_at <= before:
            return True
        return session_id is not None and session_id in self.sessions
