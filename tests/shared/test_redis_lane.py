"""A Redis connection of the process's own for the commands of every request
(ebok_shared.redis_lane): many calls at once on one connection, each getting its own reply;
error replies, a lost connection and a Redis that does not answer fail only what they must,
and the next call works again."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis
from ebok_shared.loops import event_loop
from ebok_shared.redis_lane import RedisLane
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

URL = os.environ.get("EBOK_REDIS_URL", "redis://127.0.0.1:6379/0")
OTHER_DB = URL.rsplit("/", 1)[0] + "/15"  # a database of its own: SELECT on connecting


@pytest.fixture
async def keys() -> AsyncIterator[tuple[redis.Redis, str]]:
    client = redis.from_url(OTHER_DB)
    prefix = f"ebok:test:lane:{uuid.uuid4().hex}:"
    yield client, prefix
    found = [key async for key in client.scan_iter(prefix + "*")]
    if found:
        await client.delete(*found)
    await client.aclose()


async def test_calls_at_once_each_get_their_own_reply(keys: tuple[redis.Redis, str]) -> None:
    client, prefix = keys
    for i in range(200):
        await client.set(f"{prefix}{i}", f"value {i}".encode())
    lane = RedisLane(OTHER_DB, timeout=5)
    try:
        replies = await asyncio.gather(
            *(lane.call("GETEX", f"{prefix}{i}", "EX", 600) for i in range(200))
        )
        assert replies == [f"value {i}".encode() for i in range(200)]
        assert 0 < await client.ttl(f"{prefix}7") <= 600  # GETEX gave it its expiry
        assert await lane.call("GETEX", f"{prefix}none", "EX", 600) is None
    finally:
        lane.close()


async def test_an_error_reply_fails_its_call_only(keys: tuple[redis.Redis, str]) -> None:
    client, prefix = keys
    await client.set(prefix + "a", b"1")
    lane = RedisLane(OTHER_DB, timeout=5)
    try:
        results = await asyncio.gather(
            lane.call("GET", prefix + "a"),
            lane.call("GETEX", prefix + "a", "EX", "not a number"),
            lane.call("GET", prefix + "a"),
            return_exceptions=True,
        )
        assert results[0] == b"1" and results[2] == b"1"
        assert isinstance(results[1], ResponseError)
    finally:
        lane.close()


async def test_a_lost_connection_is_opened_again(keys: tuple[redis.Redis, str]) -> None:
    client, prefix = keys
    await client.set(prefix + "a", b"1")
    lane = RedisLane(OTHER_DB, timeout=5)
    try:
        own = await lane.call("CLIENT", "ID")
        assert await client.client_kill_filter(_id=own) == 1
        try:
            found = await lane.call("GET", prefix + "a")
        except RedisConnectionError:  # the call that met the closed connection
            found = await lane.call("GET", prefix + "a")
        assert found == b"1"
        assert await lane.call("CLIENT", "ID") != own  # a new connection
    finally:
        lane.close()


async def test_a_redis_that_does_not_answer_fails_the_call() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # reads what it is sent, answers nothing
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lane = RedisLane(f"redis://127.0.0.1:{port}/0", timeout=0.2)
    try:
        with pytest.raises(RedisTimeoutError):
            await lane.call("GET", "anything")
        with pytest.raises(RedisTimeoutError):  # a new connection, as silent
            await lane.call("GET", "anything")
    finally:
        lane.close()
        server.close()
        await server.wait_closed()


def test_the_lane_on_the_serving_loop() -> None:
    """Web serves on uvloop's loop (ebok_shared.loops), which may tell a protocol of its
    connection only after the connection is handed over: the first call must still go."""

    async def first_calls() -> list[bytes]:
        lane = RedisLane(OTHER_DB, timeout=5)
        try:
            return list(await asyncio.gather(*(lane.call("ECHO", str(i)) for i in range(3))))
        finally:
            lane.close()

    loop = event_loop()
    try:
        assert loop.run_until_complete(first_calls()) == [b"0", b"1", b"2"]
    finally:
        loop.close()
