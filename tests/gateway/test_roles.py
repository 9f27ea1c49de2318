"""Roles at the gateway: every operator route of the table (forwarded or the gateway's own)
refuses an operator without its role before anything is forwarded (403 naming the role,
logged) and lets one with it through; an operator path the table does not list is 404; the
OpenAPI document names each operator route's role."""

from __future__ import annotations

from ebok_gateway.openapi import document
from ebok_gateway.routes import PREFIX, ROUTES
from ebok_shared.http.roles import ROLES

from tests.gateway.conftest import Stack
from tests.support.roles import operator_routes, walk


async def test_every_operator_route_needs_its_role(stack: Stack) -> None:
    routes = operator_routes(stack.gw.app, prefix=PREFIX + "/operator/")
    table = {(r.method, PREFIX + r.path): r.role for r in ROUTES if r.role is not None}
    assert {(r.method, r.path): r.role for r in routes} == table
    assert set(table.values()) == set(ROLES)

    async def headers(roles: tuple[str, ...]) -> dict[str, str]:
        return stack.issuer.operator("op-1", roles)

    await walk(stack.gw, routes, headers)


async def test_refused_calls_are_not_forwarded_and_allowed_ones_are(stack: Stack) -> None:
    without = stack.issuer.operator("op-1", ("customer_service", "content", "admin"))
    resp = await stack.gw.get("/api/v1/operator/billing/tariffs", headers=without)
    assert resp.status == 403 and (await resp.json())["role"] == "billing"
    assert stack.calls["/operator/tariffs"] == 0
    resp = await stack.gw.get("/api/v1/operator/billing/tariffs", headers=stack.issuer.operator())
    assert stack.calls["/operator/tariffs"] == 1  # forwarded as billing serves it
    # A customer is no operator, whatever the route.
    resp = await stack.gw.get(
        "/api/v1/operator/billing/tariffs", headers=stack.issuer.customer("123456")
    )
    assert resp.status == 403 and (await resp.json())["code"] == "forbidden"
    # Only the table's routes: no catch-all under /operator/<service>/.
    resp = await stack.gw.get("/api/v1/operator/billing/metrics", headers=stack.issuer.operator())
    assert resp.status == 404 and stack.calls["/operator/metrics"] == 0


def test_the_document_names_each_operator_routes_role() -> None:
    paths = document()["paths"]
    for route in ROUTES:
        op = paths[PREFIX + route.path][route.method.lower()]
        assert op.get("x-required-role") == route.role, route.path
        if route.role is not None:
            assert f"({route.role})" in op["description"], route.path
