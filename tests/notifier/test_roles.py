"""Roles at notifier itself (not only at the gateway): every operator route it serves refuses an
operator without the route's role (403 naming it, logged with the operator and the route) and
lets one holding just that role through."""

from __future__ import annotations

from tests.notifier.harness import Notifier
from tests.support.roles import walk_service


async def test_every_operator_route_needs_its_role(notifier: Notifier) -> None:
    await walk_service(notifier)
