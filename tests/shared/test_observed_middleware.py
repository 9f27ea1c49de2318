"""The correlation id and the request metrics in one layer (``observed_middleware``, web's
outermost): every answer carries the id — a raised one (a redirect) too — every log line of
the request has it, the caller's own id is kept, and every answer is counted under its own
status."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from ebok_shared import logs
from ebok_shared.http.middleware import new_correlation_id, observed_middleware
from prometheus_client import REGISTRY

from tests.support.logcapture import Captured

log = logs.get_logger("test.observed")


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    routes = web.RouteTableDef()

    @routes.get("/observed/page")
    async def page(request: web.Request) -> web.Response:
        log.info("page made")
        return web.Response(text="ok")

    @routes.get("/observed/moved")
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPSeeOther("/observed/page")

    app = web.Application(middlewares=[observed_middleware])
    app.add_routes(routes)
    async with TestClient(TestServer(app)) as client:
        yield client


def _counted(route: str, status: int) -> float:
    labels = {"method": "GET", "route": route, "status": str(status)}
    return REGISTRY.get_sample_value("ebok_http_requests_total", labels) or 0.0


async def test_every_answer_carries_its_id_and_its_log_lines_too(
    client: TestClient[web.Request, web.Application], captured: Captured
) -> None:
    answer = await client.get("/observed/page")
    cid = answer.headers["X-Correlation-Id"]
    assert str(uuid.UUID(cid)) == cid and uuid.UUID(cid).version == 4
    made = [line for line in captured.lines() if line["event"] == "page made"]
    assert [line["correlation_id"] for line in made] == [cid]

    kept = await client.get("/observed/page", headers={"X-Correlation-Id": "corr-7"})
    assert kept.headers["X-Correlation-Id"] == "corr-7"
    again = await client.get("/observed/page")
    assert again.headers["X-Correlation-Id"] not in (cid, "corr-7")  # none left behind


async def test_a_raised_answer_carries_the_id_and_is_counted_with_its_status(
    client: TestClient[web.Request, web.Application],
) -> None:
    before = _counted("/observed/moved", 303)
    moved = await client.get("/observed/moved", allow_redirects=False)
    assert moved.status == 303
    assert moved.headers["X-Correlation-Id"]
    assert _counted("/observed/moved", 303) == before + 1


def test_new_ids_are_version_4_uuids_written_as_uuid_writes_them() -> None:
    made = {new_correlation_id() for _ in range(2_000)}
    assert len(made) == 2_000
    for cid in made:
        parsed = uuid.UUID(cid)
        assert str(parsed) == cid
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
