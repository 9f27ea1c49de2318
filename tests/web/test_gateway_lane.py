"""Web's bodiless GETs to the gateway go over the lean lane (ebok_shared.http.lane); what the
lane does not read or write, ``Gateway.call`` asks through aiohttp, with the same answer."""

from __future__ import annotations

import aiohttp
from ebok_shared.http.lane import HttpLane
from ebok_web.gateway import Gateway

from tests.support.lane_server import answering_server


async def test_what_the_lane_leaves_is_asked_through_aiohttp() -> None:
    async with answering_server() as server, aiohttp.ClientSession() as http:
        lane = HttpLane(server.url, timeout=5)
        try:
            gateway = Gateway(http, server.url, lane)
            reply = await gateway.call("GET", "/json", params={"who": "a"})
            assert reply.json() == {"who": "a"}
            peers = len(server.peers)
            assert await lane.get("/json", {}) is not None
            assert len(server.peers) == peers  # that call went over the lane's connection
            reply = await gateway.call("GET", "/chunked")
            assert (reply.status, reply.json()) == (200, {"a": 1})
            reply = await gateway.call("GET", "/moved")
            assert reply.json() == {"who": "moved"}
            reply = await gateway.call("GET", "/json", params={"who": "a b"})
            assert reply.json() == {"who": "a b"}
        finally:
            lane.close()
