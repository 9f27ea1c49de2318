"""The dashboard outlives any one service: with each service stopped in turn (SIGTERM to its
real process), ``GET /api/v1/me/dashboard`` still answers 200, with that service's parts
marked unavailable and every other part intact; started again, the service's parts come back
without the gateway being restarted. (The notifier has no part on the dashboard: what it
owns is its share of the data export, which is refused as incomplete while it is away.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ebok_gateway.dashboard import DASHBOARD

from deploy.plan import SERVICES

from .client import Api, eventually, expect, expect_problem
from .data import load_customers
from .journeys import Session, onboard
from .stack import Stack

pytestmark = pytest.mark.timeout(300)

CLIENT = "720001"
PARTS = {p.name: p.service for p in DASHBOARD}
BACK_WITHIN = 30.0  # seconds for a restarted service's parts to be served again


@pytest.fixture(scope="module")
async def customer(api: Api, stack: Stack, workdir: Path) -> Session:
    [loaded] = await load_customers(stack, [CLIENT], workdir)
    return await onboard(api, stack, loaded)


async def _dashboard(api: Api, customer: Session) -> dict[str, Any]:
    view: dict[str, Any] = expect(await api.get("/me/dashboard", token=customer.access), 200)
    assert set(view) == set(PARTS), view
    return view


def _statuses(view: dict[str, Any]) -> dict[str, str]:
    return {name: part["status"] for name, part in view.items()}


@pytest.mark.parametrize("service", SERVICES)
async def test_dashboard_survives_a_stopped_service(
    api: Api, stack: Stack, customer: Session, service: str
) -> None:
    gateway_pid = stack.local.children["gateway"].pid
    assert set(_statuses(await _dashboard(api, customer)).values()) == {"ok"}

    await stack.stop_service(service)
    try:
        view = await _dashboard(api, customer)
        expected = {
            name: "unavailable" if owner == service else "ok" for name, owner in PARTS.items()
        }
        assert _statuses(view) == expected, view
        for name, owner in PARTS.items():
            if owner == service:
                assert "niedostępna" in view[name]["detail"], view[name]
        if service == "notifier":
            problem = expect_problem(
                await api.get("/me/export", token=customer.access), 503, "export-incomplete"
            )
            assert problem["services"] == ["notifier"], problem
    finally:
        await stack.start_service(service)

    async def restored() -> bool:
        return set(_statuses(await _dashboard(api, customer)).values()) == {"ok"}

    await eventually(restored, within=BACK_WITHIN, what=f"{service}'s parts to return", step=0.2)
    if service == "notifier":
        expect(await api.get("/me/export", token=customer.access), 200)
    assert stack.local.children["gateway"].pid == gateway_pid  # the gateway ran throughout
