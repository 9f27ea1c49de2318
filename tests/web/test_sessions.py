"""Sessions kept on the server: idle and absolute limits, tokens refreshed there (once, even
under concurrent pages), and a token the gateway stops accepting signs the customer out."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as redis

from tests.e2e.client import Api
from tests.e2e.stack import Stack

from .browser import shared_stack  # noqa: F401  (fixture "stack": tests/web's shared one)
from .customers import ready_customer, sign_in
from .portal import Portal


@pytest.fixture
async def sessions(stack: Stack) -> AsyncIterator[redis.Redis]:
    client = redis.from_url(stack.config.redis_url)
    yield client
    await client.aclose()


def _key(stack: Stack, portal: Portal) -> str:
    cookie = next(c.value for c in portal.http.cookie_jar if c.key == "__Host-ebok")
    prefix = stack.component("web").env["EBOK_SESSION_PREFIX"]
    return prefix + "s:" + hashlib.sha256(cookie.encode()).hexdigest()


async def _session(sessions: redis.Redis, key: str) -> dict[str, object]:
    raw = await sessions.get(key)
    assert raw is not None, "no session kept for the cookie"
    return dict(json.loads(raw))


async def _change(sessions: redis.Redis, key: str, **fields: object) -> None:
    data = await _session(sessions, key)
    data.update(fields)
    await sessions.set(key, json.dumps(data), keepttl=True)


@pytest.fixture
async def signed_in(stack: Stack, api: Api, workdir: Path, portal: Portal) -> Portal:
    customer = await ready_customer(stack, api, workdir)
    page = await sign_in(portal, customer.client_number)
    assert page.path == "/pulpit", page
    return portal


async def test_the_cookie_names_a_server_session_with_the_idle_limit(
    signed_in: Portal, stack: Stack, sessions: redis.Redis
) -> None:
    key = _key(stack, signed_in)
    data = await _session(sessions, key)
    assert data["kind"] == "customer" and data["access_token"] and data["refresh_token"]
    ttl = await sessions.ttl(key)
    assert 1700 < ttl <= 1800, ttl  # idle: 30 minutes from the last request
    # The cookie's value itself is not stored anywhere (only its hash names the key).
    cookie = next(c.value for c in signed_in.http.cookie_jar if c.key == "__Host-ebok")
    assert not await sessions.exists(stack.component("web").env["EBOK_SESSION_PREFIX"] + cookie)


async def test_an_idle_session_ends(signed_in: Portal, stack: Stack, sessions: redis.Redis) -> None:
    await sessions.expire(_key(stack, signed_in), 1)
    await asyncio.sleep(1.5)
    page = await signed_in.get("/pulpit")
    assert page.path == "/logowanie", page


async def test_a_session_ends_after_twelve_hours_however_active(
    signed_in: Portal, stack: Stack, sessions: redis.Redis
) -> None:
    key = _key(stack, signed_in)
    await _change(sessions, key, created=time.time() - 12 * 3600 - 5)
    page = await signed_in.get("/pulpit")
    assert page.path == "/logowanie", page
    assert not await sessions.exists(key)


async def test_tokens_are_refreshed_on_the_server_once_for_concurrent_pages(
    signed_in: Portal, stack: Stack, sessions: redis.Redis
) -> None:
    key = _key(stack, signed_in)
    before = await _session(sessions, key)
    await _change(sessions, key, access_expires=0)
    pages = await asyncio.gather(*(signed_in.get("/pulpit") for _ in range(6)))
    assert all(p.path == "/pulpit" and p.status == 200 for p in pages), pages
    after = await _session(sessions, key)
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]
    # One refresh only: a second use of the old refresh token would have ended the family.
    again = await signed_in.get("/pulpit")
    assert again.path == "/pulpit", again


async def test_a_token_the_gateway_no_longer_accepts_signs_the_customer_out(
    signed_in: Portal, stack: Stack, sessions: redis.Redis, api: Api
) -> None:
    data = await _session(sessions, _key(stack, signed_in))
    ended = await api.delete("/sessions/current", token=str(data["access_token"]))
    assert ended.status == 204, ended
    # The gateway hears of the ended session over the bus (within a second, #15.2): the
    # pages keep being asked until the portal signs the customer out, for 10 s at most.
    deadline = time.monotonic() + 10
    page = await signed_in.get("/pulpit")
    while page.path != "/logowanie" and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        page = await signed_in.get("/pulpit")
    assert page.path == "/logowanie", page
    assert "sesja wygasła" in page.text.lower(), page


async def test_a_page_starts_the_idle_time_again_without_writing_the_session_back(
    signed_in: Portal, stack: Stack, sessions: redis.Redis
) -> None:
    key = _key(stack, signed_in)
    await sessions.expire(key, 100)
    stored = await sessions.get(key)
    page = await signed_in.get("/pulpit")
    assert page.path == "/pulpit" and page.status == 200, page
    ttl = await sessions.ttl(key)
    assert 1700 < ttl <= 1800, ttl  # read with its idle time started again (one Redis call)
    assert await sessions.get(key) == stored  # nothing changed: nothing written back


async def test_in_its_last_half_hour_a_session_lives_no_longer_than_twelve_hours(
    signed_in: Portal, stack: Stack, sessions: redis.Redis
) -> None:
    key = _key(stack, signed_in)
    await _change(sessions, key, created=time.time() - 12 * 3600 + 600)  # 10 minutes left
    page = await signed_in.get("/pulpit")
    assert page.path == "/pulpit" and page.status == 200, page
    ttl = await sessions.ttl(key)
    assert 0 < ttl <= 600, ttl  # not the idle half hour: the absolute limit comes first


_TOKENS = re.compile(r'name="csrf" value="([^"]+)"')


async def test_each_page_carries_its_own_sessions_csrf_token_from_the_shared_macros(
    signed_in: Portal, stack: Stack, api: Api, workdir: Path, sessions: redis.Redis
) -> None:
    """The forms' macros are built once per process and shared by every page: the token
    they write is read while each page renders, so concurrent pages of two customers never
    carry each other's."""
    other = await ready_customer(stack, api, workdir)
    async with Portal.session(stack.portal_url) as http:
        second = Portal(http, stack.portal_url)
        assert (await sign_in(second, other.client_number)).path == "/pulpit"
        expected = {
            id(portal): str((await _session(sessions, _key(stack, portal)))["csrf"])
            for portal in (signed_in, second)
        }
        assert len(set(expected.values())) == 2
        asked = [(p, path) for p in (signed_in, second) for path in ("/konto/haslo", "/pulpit")]
        pages = await asyncio.gather(*(p.get(path) for p, path in asked * 5))
    for (portal, path), page in zip(asked * 5, pages, strict=True):
        assert page.path == path and page.status == 200, page
        found = set(_TOKENS.findall(page.html))
        assert found == {expected[id(portal)]}, (path, found)
