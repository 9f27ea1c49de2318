"""Server-side sessions: the browser holds only an opaque id in a ``__Host-`` cookie.

Where they live, and why Redis: a session is small, short-lived state read on every page
(idle 30 min, absolute 12 h) that every web replica must see, and that should vanish by
itself. Redis (already run for the gateway's rate limits) gives that with a key per session
and its TTL as the idle timeout — no table, no clean-up job, no migrations; losing Redis
only signs people out. The gateway's access and refresh tokens are kept there and refreshed
there, never sent to the browser. The key is a hash of the cookie's value, so a copy of
Redis holds no cookie a browser could present.

Two kinds of cookie, never shared: customers' ``__Host-ebok`` and operators'
``__Host-ebok-operator``. A visitor who is not signed in gets an anonymous session only when a
page has a form (for its CSRF token); signing in always starts a NEW session id.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from dataclasses import asdict, dataclass, field, fields
from operator import attrgetter
from typing import Any, Literal

import orjson
import redis.asyncio as redis
from ebok_shared.redis_lane import RedisLane

Kind = Literal["anonymous", "customer", "operator"]
COOKIES: dict[str, str] = {"customer": "__Host-ebok", "operator": "__Host-ebok-operator"}
REFRESH_MARGIN = 30  # seconds before the access token expires: refresh it first


@dataclass
class Session:
    """What web keeps about one browser (for one audience: customers or operators)."""

    id: str  # the cookie's value (never stored as such)
    audience: str  # "customer" or "operator": which cookie it lives in
    kind: Kind = "anonymous"
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    created: float = field(default_factory=time.time)
    login: str | None = None  # client number or operator login
    access_token: str | None = None
    refresh_token: str | None = None
    access_expires: float = 0.0
    restrictions: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)  # an operator's (for the console's menu)
    flash: list[str] = field(default_factory=list)  # one-time messages for the next page
    # Short-lived state of a multi-step form (e.g. the login waiting for its TOTP code).
    pending: dict[str, Any] = field(default_factory=dict)
    # The stored form this request read (None: new); unchanged sessions are only touched.
    loaded_as: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def signed_in(self) -> bool:
        return self.kind != "anonymous" and bool(self.access_token)

    def as_json(self) -> bytes:
        # Read field by field (asdict deep-copies every list, on every request's "changed?"),
        # in one call; orjson: this runs on every page, a tenth of json's time. Bytes, as
        # Redis keeps and gives them: compared with ``loaded_as`` as they are.
        return orjson.dumps(dict(zip(_STORED, _read_stored(self), strict=True)))


# What Redis holds of a session, in the fields' order (the form ``loaded_as`` compares).
_STORED = tuple(f.name for f in fields(Session) if f.name not in ("id", "loaded_as"))
_read_stored = attrgetter(*_STORED)


def _raw(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _key_of(prefix: str, session_id: str) -> str:
    return prefix + "s:" + hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        idle: int,
        absolute: int,
        lane: RedisLane | None = None,
    ) -> None:
        self._redis = client
        # the read of every page, on its own lean connection (ebok_shared.redis_lane) when given
        self._lane = lane
        self._prefix = prefix
        self.idle = idle
        self.absolute = absolute

    def new(self, audience: str) -> Session:
        return Session(id=secrets.token_urlsafe(32), audience=audience)

    async def load(self, session_id: str, audience: str) -> Session | None:
        """The session, its idle time started again by this very read (one round trip: a
        request that changes nothing writes nothing back — a concurrent request may have
        refreshed the tokens)."""
        if not session_id or len(session_id) > 100:
            return None
        key = _key_of(self._prefix, session_id)
        if self._lane is not None:
            raw = await self._lane.call("GETEX", key, "EX", self.idle)
        else:
            raw = await self._redis.getex(key, ex=self.idle)
        if raw is None:
            return None
        data = orjson.loads(raw)
        if data.get("audience") != audience:
            return None
        session = Session(id=session_id, **data)
        session.loaded_as = _raw(raw)
        left = self.absolute - (time.time() - session.created)
        if left <= 0:
            await self.delete(session)
            return None
        if left < self.idle:  # its last half hour: the key goes at the absolute limit
            await self._redis.expire(key, self._ttl(session))
        return session

    def _ttl(self, session: Session) -> int:
        left = self.absolute - (time.time() - session.created)
        return int(max(1, min(self.idle, left)))

    async def save(self, session: Session) -> None:
        """Store it; its idle timeout starts again (never past the absolute limit)."""
        key = _key_of(self._prefix, session.id)
        await self._redis.set(key, session.as_json(), ex=self._ttl(session))

    async def delete(self, session: Session) -> None:
        await self._redis.delete(_key_of(self._prefix, session.id))

    async def renew(self, session: Session) -> Session:
        """The same state under a new id (at sign-in and password change): an id someone
        saw before it was signed in is worth nothing after."""
        await self.delete(session)
        fresh = Session(**{**asdict(session), "id": secrets.token_urlsafe(32), "loaded_as": None})
        fresh.created = time.time()
        fresh.csrf = secrets.token_urlsafe(32)
        return fresh

    async def lock(self, session: Session, seconds: float = 10.0) -> bool:
        """One refresh at a time per session: the auth service treats a refresh token used
        twice as stolen and ends the whole session family."""
        key = _key_of(self._prefix, session.id) + ":refresh"
        return bool(await self._redis.set(key, "1", nx=True, px=int(seconds * 1000)))

    async def unlock(self, session: Session) -> None:
        await self._redis.delete(_key_of(self._prefix, session.id) + ":refresh")

    async def wait_for_refresh(
        self, session: Session, stale_token: str | None, timeout: float = 5.0
    ) -> Session | None:
        """Another call is refreshing ``stale_token``: its result, once there — in this
        very ``session`` (a call of the same request, sharing it), or stored by another
        request."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            if session.access_token != stale_token:
                return session
            current = await self.load(session.id, session.audience)
            if current is None:
                return None
            if current.access_token != stale_token:
                return current
        return None

    async def put_aside(
        self, session: Session, name: str, fields: dict[str, str | bytes], seconds: int
    ) -> None:
        """Keep ``fields`` for this session only, for ``seconds`` (e.g. a photo waiting for a
        form's second step): too large for the session itself, gone by themselves."""
        key = self._aside_key(session, name)
        async with self._redis.pipeline(transaction=True) as pipe:
            for field_name, value in fields.items():
                pipe.hset(key, field_name, value)
            pipe.expire(key, seconds)
            await pipe.execute()

    async def taken_aside(self, session: Session, name: str) -> dict[bytes, bytes]:
        found = await self._redis.hgetall(self._aside_key(session, name))
        # The client answers bytes (no decode_responses).
        return {_raw(k): _raw(v) for k, v in found.items()}

    def _aside_key(self, session: Session, name: str) -> str:
        digest = hashlib.sha256(f"{session.id}:{name}".encode()).hexdigest()
        return self._prefix + "aside:" + digest

    async def ping(self) -> bool:
        return bool(await self._redis.ping())
