"""One refresh of a session's tokens at a time, against the real Redis: a call waiting for
another call's refresh gets the new tokens whether that call belongs to another request
(stored in Redis) or to the same request (the console's pages ask the API several things at
once, sharing one session object)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis
from ebok_web.sessions import Session, SessionStore


@pytest.fixture
async def store() -> AsyncIterator[SessionStore]:
    client = redis.from_url("redis://127.0.0.1:6379/0")
    prefix = f"ebok:test:{uuid.uuid4().hex[:8]}:"
    yield SessionStore(client, prefix, idle=60, absolute=3600)
    keys = [key async for key in client.scan_iter(prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def operator_session(store: SessionStore) -> Session:
    session = store.new("operator")
    session.kind, session.access_token = "operator", "old-token"
    return session


async def test_a_call_of_the_same_request_gets_the_refresh_made_beside_it(
    store: SessionStore,
) -> None:
    session = operator_session(store)
    await store.save(session)
    assert await store.lock(session)

    async def refresh_beside() -> None:
        await asyncio.sleep(0.2)
        session.access_token = "new-token"  # the other call adopts the new tokens

    waited, _ = await asyncio.gather(
        store.wait_for_refresh(session, "old-token", timeout=2), refresh_beside()
    )
    assert waited is session and session.access_token == "new-token"


async def test_a_call_of_another_request_gets_the_refresh_stored_in_redis(
    store: SessionStore,
) -> None:
    session = operator_session(store)
    await store.save(session)
    other = await store.load(session.id, "operator")
    assert other is not None and other is not session
    other.access_token = "new-token"
    await store.save(other)
    waited = await store.wait_for_refresh(session, "old-token", timeout=2)
    assert waited is not None and waited.access_token == "new-token"


async def test_a_refresh_that_never_comes_is_no_session(store: SessionStore) -> None:
    session = operator_session(store)
    await store.save(session)
    assert await store.wait_for_refresh(session, "old-token", timeout=0.3) is None
