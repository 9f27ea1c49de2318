"""Roles at billing itself (not only at the gateway): every operator route it serves refuses an
operator without the route's role (403 naming it, logged with the operator and the route) and
lets one holding just that role through."""

from __future__ import annotations

from tests.billing.helpers import Billing
from tests.support.roles import operator_routes, walk


async def test_every_operator_route_needs_its_role(billing: Billing) -> None:
    async def headers(roles: tuple[str, ...]) -> dict[str, str]:
        return billing.issuer.operator("op-1", roles)

    await walk(billing.client, operator_routes(billing.client.app), headers)
