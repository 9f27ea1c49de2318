"""Running a service's real app in the test process, on a real port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(app, host="127.0.0.1"))
    try:
        await client.start_server()
        yield client
    finally:
        await client.close()
