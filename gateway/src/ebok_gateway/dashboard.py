"""Aggregated customer views, declared as data: each part names its service call, its timeout
and its portal section. Parts are fetched concurrently; a part that is slow, down or failing
is marked unavailable and never turns the view into an error."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from ebok_shared.http.problems import Problem
from ebok_shared.logs import get_logger

from .portal import PortalSettings
from .upstream import Upstreams

log = get_logger(__name__)

UNAVAILABLE = "Ta informacja jest chwilowo niedostępna. Spróbuj odświeżyć stronę za chwilę."


@dataclass(frozen=True)
class Part:
    name: str
    service: str
    path: str
    section: str | None = None


DASHBOARD: tuple[Part, ...] = (
    Part("profile", "auth", "/me"),
    Part("contracts", "billing", "/me/contracts", "contracts"),
    Part("meters", "readings", "/me/meters", "readings"),
    Part("balance", "billing", "/me/balance", "invoices"),
    Part("last_invoices", "billing", "/me/invoices?page_size=3", "invoices"),
    Part("e_invoice", "billing", "/me/e-invoice", "e_invoices"),
    Part(
        "open_cases",
        "correspondence",
        "/me/correspondence?status=open&page_size=5",
        "correspondence",
    ),
    Part(
        "garden_meter_requests",
        "readings",
        "/me/garden-meter-requests?status=open",
        "garden_meters",
    ),
)

# Every service's part of the GDPR export (terms I.7: the right to see one's data).
EXPORT: tuple[Part, ...] = (
    Part("auth", "auth", "/me/data"),
    Part("billing", "billing", "/me/export"),
    Part("readings", "readings", "/me/export"),
    Part("correspondence", "correspondence", "/me/export"),
    Part("notifier", "notifier", "/me/export"),
)


async def _fetch(upstreams: Upstreams, part: Part, token: str, timeout: float) -> dict[str, Any]:
    try:
        data = await upstreams.json(part.service, part.path, token=token, timeout=timeout)
        return {"status": "ok", "data": data}
    except Problem as problem:
        if problem.status < 500:
            return {"status": "error", "detail": problem.detail}
        return {"status": "unavailable", "detail": UNAVAILABLE}
    except Exception as exc:  # a part never breaks the view
        log.warning("dashboard part failed", part=part.name, error=repr(exc))
        return {"status": "unavailable", "detail": UNAVAILABLE}


async def gather_view(
    upstreams: Upstreams,
    parts: tuple[Part, ...],
    token: str,
    *,
    portal: PortalSettings,
    part_timeout: float,
    budget: float,
) -> dict[str, Any]:
    visible = [p for p in parts if portal.mode(p.section) not in ("hidden",)]
    view: dict[str, Any] = {}
    tasks = {}
    for part in visible:
        if portal.mode(part.section) == "off":
            view[part.name] = {"status": "suspended", "detail": portal.modes[part.section or ""][1]}
        else:
            tasks[part.name] = asyncio.ensure_future(_fetch(upstreams, part, token, part_timeout))
    if tasks:
        done, pending = await asyncio.wait(tasks.values(), timeout=budget)
        for task in pending:
            task.cancel()
        for name, task in tasks.items():
            view[name] = (
                task.result() if task in done else {"status": "unavailable", "detail": UNAVAILABLE}
            )
    return view
