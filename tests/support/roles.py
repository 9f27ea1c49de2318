"""The role walk: every operator route a running app serves (read from its router, so a new
route cannot be left out), called by an operator holding every role but the one it needs
(403 naming that role, and a log line naming the operator and the route) and by one holding
just that role (anything but 401/403: the role lets the operator through)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient
from ebok_shared.http.roles import ROLES, role_of

from tests.support.service import RunningService

# A well-formed value for each path parameter the operator routes use, so that the call
# reaches the handler (an unknown id then answers 404, which is fine: it is not 403).
SAMPLES = {
    "client_number": "100001",
    "login": "ktos.inny",
    "number": "10000126010001",
    "serial": "WM-100001-1",
    "section": "invoices",
    "item_id": "10000126010001",
    "id": "1",
    "message_id": "1",
}
Headers = Callable[[tuple[str, ...]], Awaitable[dict[str, str]]]


@dataclass(frozen=True)
class OperatorRoute:
    method: str
    path: str  # the router's template, e.g. /operator/cases/{case_id}
    role: str

    def sample(self) -> str:
        def value(match: re.Match[str]) -> str:
            return SAMPLES.get(match[1], str(uuid.UUID(int=1)))

        return re.sub(r"{(\w+)(?::[^}]*)?}", value, self.path)


def operator_routes(app: web.Application, prefix: str = "/operator/") -> list[OperatorRoute]:
    """Every non-public route under ``prefix``; each must name its role."""
    found = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if not path.startswith(prefix) or route.method in ("HEAD", "OPTIONS"):
            continue
        if getattr(route.handler, "ebok_public", False):
            continue
        role = role_of(route.handler)
        assert role in ROLES, f"{route.method} {path} names no operator role"
        found.append(OperatorRoute(route.method, path, role))
    assert found, f"no operator routes under {prefix}"
    return found


async def walk_service(service: RunningService[Any]) -> None:
    """The walk over every operator route of a service under test, with its issuer's tokens."""

    async def headers(roles: tuple[str, ...]) -> dict[str, str]:
        return service.issuer.operator("op-1", roles)

    await walk(service.client, operator_routes(service.app), headers)


async def walk(client: TestClient, routes: list[OperatorRoute], headers: Headers) -> None:
    """Each route refused without its role (and the refusal logged), served with it."""
    for route in routes:
        others = tuple(r for r in ROLES if r != route.role)
        with structlog.testing.capture_logs() as logs:
            status, problem = await _call(client, route, await headers(others))
        where = f"{route.method} {route.path}"
        assert status == 403, f"{where} without {route.role}: {status} {problem}"
        assert problem["code"] == "role-required" and problem["role"] == route.role, where
        assert route.role in problem["detail"], where
        refusals = [e for e in logs if e.get("event") == "operator route refused"]
        assert refusals and refusals[0]["route"] == where, f"{where}: no log line {logs}"
        assert refusals[0]["required_role"] == route.role and refusals[0]["operator"], where

        status, answer = await _call(client, route, await headers((route.role,)))
        assert status not in (401, 403), f"{where} with {route.role}: {status} {answer}"


async def _call(
    client: TestClient, route: OperatorRoute, headers: dict[str, str]
) -> tuple[int, Any]:
    body: dict[str, Any] | None = {} if route.method in ("POST", "PUT") else None
    resp = await client.request(route.method, route.sample(), headers=headers, json=body)
    try:
        answer = await resp.json(content_type=None)
    except ValueError:
        answer = None
    return resp.status, answer
