"""A real aiohttp server answering GETs at ``/api/v1/{kind}`` in the ways a lean HTTP lane
(ebok_shared.http.lane) must read or leave to aiohttp: JSON with an ETag (304 to a match), a
chunked answer, an answer in pieces, ``Connection: close``, a slow answer, a redirect, a refusal."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web


class Server:
    def __init__(self) -> None:
        self.peers: set[asyncio.BaseTransport] = set()  # the connections requests came on
        self.seen: list[web.Request] = []
        self.url = ""


@contextlib.asynccontextmanager
async def answering_server() -> AsyncIterator[Server]:
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
        if kind == "pieces":  # the head, then the body in two parts, each on its own
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            response.content_length = 15
            await response.prepare(request)
            await asyncio.sleep(0.05)
            await response.write(b'{"pieces": ')
            await asyncio.sleep(0.05)
            await response.write(b'"2"}')
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
