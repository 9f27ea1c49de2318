"""Roles at readings itself (not only at the gateway): every operator route it serves refuses an
operator without the route's role (403 naming it, logged with the operator and the route) and
lets one holding just that role through."""

from __future__ import annotations

from tests.readings.harness import Readings
from tests.support.roles import walk_service


async def test_every_operator_route_needs_its_role(readings: Readings) -> None:
    await walk_service(readings)
