"""The dashboard outlives any one service: with each service stopped in turn (SIGTERM to its
real process), ``GET /api/v1/me/dashboard`` still answers 200 — the parts the gateway kept
are still served (nothing can have changed them: their owner is down), and when it must ask
(``Cache-Control: no-cache``, or nothing kept) that service's parts are marked unavailable
and every other part is intact; started again, the service's parts come back without the
gateway being restarted. (The notifier has no part on the dashboard: what it
owns is its share of the data export, which is refused as incomplete while it is away.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ebok_gateway.dashboard import DASHBOARD

from deploy.plan import SERVICES
from tests.support.waiting import eventually

from .client import Api, expect, expect_problem
from .data import load_customers
from .journeys import Session, onboard
from .stack import Stack

pytestmark = pytest.mark.timeout(300)

CLIENT = "720001"
PARTS = {p.name: p.service for p in DASHBOARD}
# Parts the gateway derives from the others: served whatever service is away.
DERIVED = {"notices"}
BACK_WITHIN = 30.0  # seconds for a restarted service's parts to be served again


@pytest.fixture(scope="module")
async def customer(api: Api, stack: Stack, workdir: Path) -> Session:
    [loaded] = await load_customers(stack, [CLIENT], workdir)
    session = await onboard(api, stack, loaded)
    await stack.settled()  # no late event of the onboarding drops what the gateway keeps
    return session


async def _dashboard(api: Api, customer: Session, *, fresh: bool = True) -> dict[str, Any]:
    """The dashboard, every part asked of its service unless ``fresh`` is false."""
    headers = {"Cache-Control": "no-cache"} if fresh else {}
    reply = await api.get("/me/dashboard", token=customer.access, headers=headers)
    view: dict[str, Any] = expect(reply, 200)
    assert set(view) == set(PARTS) | DERIVED, view
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
        kept = await _dashboard(api, customer, fresh=False)
        assert set(_statuses(kept).values()) == {"ok"}, kept
        view = await _dashboard(api, customer)
        expected = {
            name: "unavailable" if owner == service else "ok" for name, owner in PARTS.items()
        } | dict.fromkeys(DERIVED, "ok")
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

    await eventually(restored, f"{service}'s parts to return", within=BACK_WITHIN, step=0.2)
    if service == "notifier":
        expect(await api.get("/me/export", token=customer.access), 200)
    assert stack.local.children["gateway"].pid == gateway_pid  # the gateway ran throughout
