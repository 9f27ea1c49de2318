"""The gateway's view of each service's API, pinned: every public route the gateway forwards
is served by the service that owns it, with that method and path (a service that renames or
drops a route breaks this test, not a customer)."""

from __future__ import annotations

import re
import uuid

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from ebok_gateway.routes import ROUTES, Route

from tools.event_table import spec_as_run

SAMPLES = {
    "number": "10000126010001",
    "serial": "WM-100001-1",
    "case_id": str(uuid.uuid4()),
    "attachment_id": str(uuid.uuid4()),
    "order_id": str(uuid.uuid4()),
    "version": "1",
}
_routers: dict[str, web.Application] = {}


def _app(service: str) -> web.Application:
    """An app with just the service's own routes (its real route table)."""
    if service not in _routers:
        app = web.Application()
        app.router.add_routes(spec_as_run(service).routes)
        _routers[service] = app
    return _routers[service]


def _sample_path(route: Route) -> str:
    return re.sub(r"{(\w+)}", lambda m: SAMPLES[m[1]], route.path)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
async def test_the_owning_service_serves_the_route(route: Route) -> None:
    app = _app(route.service)
    request = make_mocked_request(route.method, _sample_path(route), app=app)
    match = await app.router.resolve(request)
    assert match.http_exception is None, f"{route.service}: no {route.method} {route.path}"
