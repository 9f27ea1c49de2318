"""Bodiless GETs over the lean lane of kept-alive connections (ebok_shared.http.lane), against a
real aiohttp server: answers read whole (with a body, 304 without one), connections kept and
used again, calls at once each on a connection of their own, a kept connection the server
closed tried once more, answers it does not read left to aiohttp (None), a server that does
not answer timed out (the lane's timeout or the call's own), and addresses or headers it
cannot write as they are never sent."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from ebok_shared.http.lane import HttpLane, _head, _Unsupported
from multidict import CIMultiDict

from tests.support.lane_server import Server, answering_server


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    async with answering_server() as state:
        yield state


async def test_answers_read_whole_and_the_connection_kept(server: Server) -> None:
    lane = HttpLane(server.url, timeout=5)
    try:
        first = await lane.get("/json?who=a", {"Accept": "application/json"})
        assert first is not None
        status, headers, body = first
        assert (status, body) == (200, b'{"who": "a"}')
        assert headers["etag"] == '"v1"'  # case-insensitive, as HTTP's names are
        again = await lane.get("/json", {"If-None-Match": '"v1"'})
        assert again is not None and again[0] == 304 and again[2] == b""
        refused = await lane.get("/refused", {})
        assert refused is not None and refused[0] == 403 and b"nope" in refused[2]
        assert len(server.peers) == 1  # one connection for the three, one after another
        assert server.seen[0].headers["Host"] == server.url.split("/")[2]
    finally:
        lane.close()


async def test_an_answer_that_comes_in_pieces_is_read_whole(server: Server) -> None:
    lane = HttpLane(server.url, timeout=5)
    try:
        for _ in range(2):  # and the connection kept for the next
            answer = await lane.get("/pieces", {})
            assert answer is not None and answer[0] == 200
            assert answer[2] == b'{"pieces": "2"}' and len(answer[2]) == 15
        answer = await lane.get("/json?who=b", {})
        assert answer is not None and answer[2] == b'{"who": "b"}'
        assert len(server.peers) == 1
    finally:
        lane.close()


async def test_calls_at_once_each_get_their_own_answer(server: Server) -> None:
    lane = HttpLane(server.url, timeout=5)
    try:
        answers = await asyncio.gather(*(lane.get(f"/json?who={i}", {}) for i in range(50)))
        assert [a[2] if a else None for a in answers] == [b'{"who": "%d"}' % i for i in range(50)]
        opened = len(server.peers)
        await asyncio.gather(*(lane.get(f"/json?who={i}", {}) for i in range(50)))
        assert len(server.peers) == opened  # the kept ones, used again
    finally:
        lane.close()


async def test_a_kept_connection_the_server_closed_is_tried_once_more(server: Server) -> None:
    lane = HttpLane(server.url, timeout=5)
    try:
        assert await lane.get("/json", {}) is not None
        for peer in list(server.peers):  # the server ends its side of the kept connection
            peer.close()
        await asyncio.sleep(0.05)
        answer = await lane.get("/json?who=b", {})
        assert answer is not None and answer[2] == b'{"who": "b"}'
        # "Connection: close" is honoured: the next call opens a new connection
        closing = await lane.get("/close", {})
        assert closing is not None and closing[2] == b"bye"
        before = len(server.peers)
        assert await lane.get("/json", {}) is not None
        assert len(server.peers) == before + 1
    finally:
        lane.close()


async def test_what_it_cannot_read_or_write_is_left_to_aiohttp(server: Server) -> None:
    lane = HttpLane(server.url, timeout=5)
    try:
        assert await lane.get("/chunked", {}) is None  # no length: aiohttp reads it
        assert await lane.get("/moved", {}) is None  # aiohttp follows a redirect
        assert await lane.get("/json?who=a b", {}) is None  # not written as it is
        assert await lane.get("/json", {"X-Bad": "a\r\nX-Injected: 1"}) is None
        assert await lane.get("/json", {"X-Name": "Łukasz"}) is None
        assert all("X-Injected" not in r.headers for r in server.seen)
        assert HttpLane("https://example.org/api/v1", timeout=5).usable is False
    finally:
        lane.close()


async def test_no_answer_in_time_is_a_timeout_and_the_connection_is_dropped(
    server: Server,
) -> None:
    lane = HttpLane(server.url, timeout=0.3)
    try:
        with pytest.raises(TimeoutError):
            await lane.get("/slow", {})
        answer = await lane.get("/json?who=c", {})  # a new connection: the late answer unread
        assert answer is not None and answer[2] == b'{"who": "c"}'
    finally:
        lane.close()


async def test_a_calls_own_timeout_bounds_it_instead_of_the_lanes(server: Server) -> None:
    lane = HttpLane(server.url, timeout=30)
    try:
        began = asyncio.get_running_loop().time()
        with pytest.raises(TimeoutError):
            await lane.get("/slow", {}, timeout=0.2)
        assert asyncio.get_running_loop().time() - began < 1.5  # not the lane's 30 s
        answer = await lane.get("/json?who=d", {}, timeout=5)
        assert answer is not None and answer[2] == b'{"who": "d"}'
    finally:
        lane.close()


async def test_a_server_that_cannot_be_reached_is_a_connection_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    lane = HttpLane(f"http://127.0.0.1:{port}/api/v1", timeout=2)
    with pytest.raises(aiohttp.ClientConnectionError):
        await lane.get("/json", {})


def test_a_head_is_read_in_one_pass_and_an_odd_line_leaves_it_to_aiohttp() -> None:
    """The head's lines as HTTP writes them (a token, a colon, the value without the spaces
    around it); a line of any other shape, or a line break alone, is not read here."""
    status, headers, length, keep = _head(
        b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nCache-Control:  no-store \r\n'
        b"X-Empty:\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0"
    )
    assert (status, length, keep) == (304, 0, True)
    assert headers["etag"] == '"v1"' and headers["Cache-Control"] == "no-store"
    assert headers["X-Empty"] == "" and headers.getall("Set-Cookie") == ["a=1", "b=2"]
    assert _head(b"HTTP/1.0 204 No Content")[1:] == (CIMultiDict(), 0, False)
    for odd in (
        b"HTTP/1.1 200 OK\r\nX Y: v\r\nContent-Length: 0",  # not a token before the colon
        b"HTTP/1.1 200 OK\r\n : v\r\nContent-Length: 0",
        b"HTTP/1.1 200 OK\r\nA: x\nB: y\r\nContent-Length: 0",  # a line feed alone
        b"HTTP/1.1 200 OK\r\nA: x\ry\r\nContent-Length: 0",  # a carriage return alone
        b"HTTP/1.1 200 OK\r\nno colon\r\nContent-Length: 0",
    ):
        with pytest.raises(_Unsupported):
            _head(odd)
