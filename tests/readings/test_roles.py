"""Roles at readings itself (not only at the gateway): every operator route it serves refuses an
operator without the route's role (403 naming it, logged with the operator and the route) and
lets one holding just that role through."""

from __future__ import annotations

from tests.readings.harness import Readings
from tests.support.roles import operator_routes, walk


async def test_every_operator_route_needs_its_role(readings: Readings) -> None:
    async def headers(roles: tuple[str, ...]) -> dict[str, str]:
        return readings.issuer.operator("op-1", roles)

    await walk(readings.client, operator_routes(readings.client.app), headers)
