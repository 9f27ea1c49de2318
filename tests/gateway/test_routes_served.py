"""The gateway's view of each service's API, pinned: every public route the gateway forwards
is served by the service that owns it, with that method and path (a service that renames or
drops a route breaks this test, not a customer); every operator route a service serves is in
the gateway's table, and both ask for the same role."""

from __future__ import annotations

import re
import uuid

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from ebok_gateway.routes import ROUTES, Route
from ebok_shared.http.roles import role_of

from tools.event_table import app_as_run

SAMPLES = {
    "number": "10000126010001",
    "serial": "WM-100001-1",
    "case_id": str(uuid.uuid4()),
    "attachment_id": str(uuid.uuid4()),
    "photo_id": str(uuid.uuid4()),
    "order_id": str(uuid.uuid4()),
    "version": "1",
    "client_number": "100001",
    "login": "anna.nowak",
    "batch_id": str(uuid.uuid4()),
    "reading_id": str(uuid.uuid4()),
    "request_id": str(uuid.uuid4()),
    "id": "1",
    "message_id": str(uuid.uuid4()),
}
FORWARDED = [r for r in ROUTES if r.service != "gateway"]
_routers: dict[str, web.Application] = {}


def _app(service: str) -> web.Application:
    """The service's app as it runs (its own routes and the shared ones), not started."""
    if service not in _routers:
        _routers[service] = app_as_run(service)
    return _routers[service]


def _sample_path(route: Route) -> str:
    return re.sub(r"{(\w+)}", lambda m: SAMPLES[m[1]], route.service_path)


@pytest.mark.parametrize("route", FORWARDED, ids=lambda r: f"{r.method} {r.path}")
async def test_the_owning_service_serves_the_route(route: Route) -> None:
    app = _app(route.service)
    request = make_mocked_request(route.method, _sample_path(route), app=app)
    match = await app.router.resolve(request)
    assert match.http_exception is None, f"{route.service}: no {route.method} {route.path}"
    # The service asks for the role the gateway's table names (None: not an operator route).
    assert role_of(match.handler) == route.role, f"{route.method} {route.path}"


@pytest.mark.parametrize("service", sorted({r.service for r in FORWARDED}))
def test_every_operator_route_of_a_service_is_in_the_table(service: str) -> None:
    listed = {(r.method, r.service_path) for r in FORWARDED if r.service == service}
    served = {
        (route.method, re.sub(r"{(\w+):[^}]*}", r"{\1}", route.resource.canonical))
        for route in _app(service).router.routes()
        if route.resource is not None
        and route.method != "HEAD"
        and route.resource.canonical.startswith("/operator/")
        and role_of(route.handler) is not None
    }
    assert served - listed == set(), f"{service} serves operator routes the gateway lacks"
