"""A service's batch of its own reads (ebok_shared.http.batch) over a real app: each part runs
in the middleware it is given (a test stack's contract check), a slow part answers late on
its own and the others are kept. The token, role and restriction checks are covered through
billing's real app (tests/billing/test_customer.py)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler
from ebok_shared.http import batch
from ebok_shared.http.params import HIDDEN_ITEMS_HEADER

from tests.support.apps import serve


async def test_each_part_runs_in_the_given_middleware_and_a_late_one_alone() -> None:
    seen: list[str] = []

    @web.middleware
    async def around(request: web.Request, handler: Handler) -> web.StreamResponse:
        seen.append(request.path)
        return await handler(request)

    async def quick(request: web.Request) -> web.Response:
        return web.json_response({"n": request.query.get("n")})

    async def slow(_: web.Request) -> web.Response:
        await asyncio.Event().wait()  # never answers on its own
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/quick", quick)
    app.router.add_get("/slow", slow)
    batch.install(app, around)
    async with serve(app) as client:
        resp = await client.get(
            "/batch",
            params=[
                ("part", "/quick?n=1"),
                ("part", "/slow"),
                ("part", "/nowhere"),
                ("hidden", ""),
                ("hidden", ""),
                ("hidden", ""),
                ("within", "0.2"),
            ],
        )
        assert resp.status == 200
        parts = (await resp.json())["parts"]
    assert [p["status"] for p in parts] == [200, 504, 404]
    assert parts[0]["body"] == {"n": "1"}
    assert parts[1]["body"]["code"] == "part-timeout"
    assert sorted(seen) == ["/nowhere", "/quick", "/slow"]


async def test_each_part_gets_the_batch_headers_and_only_its_own_hidden_items() -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "hidden": request.headers.getall(HIDDEN_ITEMS_HEADER, []),
                "other": request.headers.get("X-Other"),
                "path": request.path_qs,
            }
        )

    app = web.Application()
    app.router.add_get("/echo", echo)
    batch.install(app)
    params = [("part", "/echo?n=1"), ("part", "/echo"), ("hidden", "a,b"), ("hidden", "")]
    async with serve(app) as client:
        for sent in ({}, {HIDDEN_ITEMS_HEADER: "from-the-batch"}):
            resp = await client.get("/batch", params=params, headers={"X-Other": "kept", **sent})
            assert resp.status == 200
            bodies = [p["body"] for p in (await resp.json())["parts"]]
            assert bodies == [
                {"hidden": ["a,b"], "other": "kept", "path": "/echo?n=1"},
                {"hidden": [], "other": "kept", "path": "/echo"},
            ], sent
