"""Web's own kept-alive connections for bodiless GETs to the gateway, against a real aiohttp
server: answers read whole (with a body, 304 without one), connections kept and used again,
calls at once each on a connection of their own, a kept connection the server closed tried
once more, answers it does not read left to aiohttp (None), a server that does not answer
timed out, and addresses or headers it cannot write as they are never sent."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from ebok_web.gateway import Gateway
from ebok_web.gateway_lane import GatewayLane


class Server:
    def __init__(self) -> None:
        self.peers: set[asyncio.BaseTransport] = set()  # the connections requests came on
        self.seen: list[web.Request] = []
        self.url = ""


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()

    async def answer(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        state.peers.add(request.transport)
        state.seen.append(request)
        kind = request.match_info["kind"]
        if kind == "json":
            if request.headers.get("If-None-Match") == '"v1"':
                return web.Response(status=304, headers={"ETag": '"v1"'})
            body = b'{"who": "%s"}' % request.query.get("who", "").encode()
            return web.Response(
                body=body, content_type="application/json", headers={"ETag": '"v1"'}
            )
        if kind == "chunked":
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            await response.write(b'{"a": 1}')
            await response.write_eof()
            return response
        if kind == "close":
            return web.Response(body=b"bye", headers={"Connection": "close"})
        if kind == "slow":
            await asyncio.sleep(2)
            return web.Response(body=b"late")
        if kind == "moved":
            raise web.HTTPFound("/api/v1/json?who=moved")
        if kind == "refused":
            return web.json_response({"code": "nope"}, status=403)
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_get("/api/v1/{kind}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.url = f"http://127.0.0.1:{port}/api/v1"
    yield state
    await runner.cleanup()


async def test_answers_read_whole_and_the_connection_kept(server: Server) -> None:
    lane = GatewayLane(server.url, timeout=5)
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


async def test_calls_at_once_each_get_their_own_answer(server: Server) -> None:
    lane = GatewayLane(server.url, timeout=5)
    try:
        answers = await asyncio.gather(*(lane.get(f"/json?who={i}", {}) for i in range(50)))
        assert [a[2] if a else None for a in answers] == [b'{"who": "%d"}' % i for i in range(50)]
        opened = len(server.peers)
        await asyncio.gather(*(lane.get(f"/json?who={i}", {}) for i in range(50)))
        assert len(server.peers) == opened  # the kept ones, used again
    finally:
        lane.close()


async def test_a_kept_connection_the_server_closed_is_tried_once_more(server: Server) -> None:
    lane = GatewayLane(server.url, timeout=5)
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
    lane = GatewayLane(server.url, timeout=5)
    try:
        assert await lane.get("/chunked", {}) is None  # no length: aiohttp reads it
        assert await lane.get("/moved", {}) is None  # aiohttp follows a redirect
        assert await lane.get("/json?who=a b", {}) is None  # not written as it is
        assert await lane.get("/json", {"X-Bad": "a\r\nX-Injected: 1"}) is None
        assert await lane.get("/json", {"X-Name": "Łukasz"}) is None
        assert all("X-Injected" not in r.headers for r in server.seen)
        assert GatewayLane("https://example.org/api/v1", timeout=5).usable is False
        # and Gateway.call then asks through aiohttp: the same answer
        async with aiohttp.ClientSession() as http:
            gateway = Gateway(http, server.url, lane)
            reply = await gateway.call("GET", "/chunked")
            assert (reply.status, reply.json()) == (200, {"a": 1})
            reply = await gateway.call("GET", "/moved")
            assert reply.json() == {"who": "moved"}
            reply = await gateway.call("GET", "/json", params={"who": "a b"})
            assert reply.json() == {"who": "a b"}
    finally:
        lane.close()


async def test_no_answer_in_time_is_a_timeout_and_the_connection_is_dropped(
    server: Server,
) -> None:
    lane = GatewayLane(server.url, timeout=0.3)
    try:
        with pytest.raises(TimeoutError):
            await lane.get("/slow", {})
        answer = await lane.get("/json?who=c", {})  # a new connection: the late answer unread
        assert answer is not None and answer[2] == b'{"who": "c"}'
    finally:
        lane.close()


async def test_a_gateway_that_cannot_be_reached_is_a_connection_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    lane = GatewayLane(f"http://127.0.0.1:{port}/api/v1", timeout=2)
    with pytest.raises(aiohttp.ClientConnectionError):
        await lane.get("/json", {})
