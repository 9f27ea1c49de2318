"""Aggregated customer views, declared as data: each part names its service call, its timeout
and its portal section. Parts are fetched concurrently; a part that is slow, down or failing
is marked unavailable and never turns the view into an error."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ebok_shared.http.params import HIDDEN_ITEMS_HEADER
from ebok_shared.http.problems import Problem
from ebok_shared.logs import get_logger

from .admission import Admission
from .coalesce import Coalescer, Flight
from .notices import notices
from .portal import PortalSettings
from .routes import GARDEN_METERS
from .upstream import Upstreams
from .view_cache import PARTS_SERVED, ViewCache

log = get_logger(__name__)

# The counter's two series, looked up once (``labels`` checks its arguments and locks each time).
_SERVED_KEPT = PARTS_SERVED.labels("cache")
_SERVED_ASKED = PARTS_SERVED.labels("service")

UNAVAILABLE = "Ta informacja jest chwilowo niedostępna. Spróbuj odświeżyć stronę za chwilę."


@dataclass(frozen=True)
class Part:
    name: str
    service: str
    path: str
    section: str | None = None
    list_key: str | None = None  # field of the part's items operators can hide
    sectioned_items: tuple[str, str, str] | None = None  # see routes.Route


DASHBOARD: tuple[Part, ...] = (
    Part("profile", "auth", "/me"),
    Part("contracts", "billing", "/me/contracts", "contracts", "contract_number"),
    Part("meters", "readings", "/me/meters", "readings", sectioned_items=GARDEN_METERS),
    Part("balance", "billing", "/me/balance", "invoices"),
    Part("last_invoices", "billing", "/me/invoices?page_size=3", "invoices", "invoice_number"),
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

# Parts a front end asks for by name beside the ones every dashboard has (``?include=``): the
# portal's page shows the consumption chart, and asks for it with the rest in one call; kept
# with the other parts (readings' events about the client drop it). /me/consumption stays for
# the consumption page and its periods.
OPTIONAL: dict[str, Part] = {
    "consumption": Part("consumption", "readings", "/me/consumption", "readings"),
}


# Every service's part of the GDPR export (terms I.7: the right to see one's data).
EXPORT: tuple[Part, ...] = (
    Part("auth", "auth", "/me/data"),
    Part("billing", "billing", "/me/export"),
    Part("readings", "readings", "/me/export"),
    Part("correspondence", "correspondence", "/me/export"),
    Part("notifier", "notifier", "/me/export"),
)


async def _fetch(
    upstreams: Upstreams,
    part: Part,
    token: str,
    timeout: float,
    headers: dict[str, str] | None,
) -> dict[str, Any]:
    try:
        data = await upstreams.json(
            part.service, part.path, token=token, timeout=timeout, headers=headers
        )
        return {"status": "ok", "data": data}
    except Problem as problem:
        return _failed(problem)
    except Exception as exc:  # a part never breaks the view
        log.warning("dashboard part failed", part=part.name, error=repr(exc))
        return {"status": "unavailable", "detail": UNAVAILABLE}


def _failed(problem: Problem) -> dict[str, Any]:
    if problem.status < 500:
        return {"status": "error", "detail": problem.detail}
    return {"status": "unavailable", "detail": UNAVAILABLE}


async def _fetch_together(
    upstreams: Upstreams,
    parts: Sequence[Part],
    token: str,
    timeout: float,
    hidden: Sequence[str],
) -> dict[str, dict[str, Any]]:
    """``parts`` of one service in one call (``Upstreams.batch``), each with its own
    outcome, as if asked on its own; a service without batches is asked part by part."""
    if len(parts) == 1:  # one part: its own call, as cheap as a batch of one
        headers = {HIDDEN_ITEMS_HEADER: hidden[0]} if hidden[0] else None
        return {parts[0].name: await _fetch(upstreams, parts[0], token, timeout, headers)}
    service = parts[0].service
    try:
        answers = await upstreams.batch(
            service, [(p.path, h) for p, h in zip(parts, hidden, strict=True)], token, timeout
        )
    except Problem as problem:
        return {p.name: _failed(problem) for p in parts}
    except Exception as exc:  # a part never breaks the view
        log.warning("dashboard parts failed", service=service, error=repr(exc))
        return {p.name: {"status": "unavailable", "detail": UNAVAILABLE} for p in parts}
    if answers is None:  # a service of an older release: no batches yet
        fetched = await asyncio.gather(
            *(
                _fetch(upstreams, p, token, timeout, {HIDDEN_ITEMS_HEADER: h} if h else None)
                for p, h in zip(parts, hidden, strict=True)
            )
        )
        return {p.name: part for p, part in zip(parts, fetched, strict=True)}
    result: dict[str, dict[str, Any]] = {}
    for part, answer in zip(parts, answers, strict=True):
        if isinstance(answer, Problem):
            result[part.name] = _failed(answer)
        else:
            result[part.name] = {"status": "ok", "data": answer}
    return result


async def fetch_parts(
    upstreams: Upstreams,
    parts: Sequence[Part],
    token: str,
    *,
    part_timeout: float,
    budget: float,
    hidden: tuple[PortalSettings, str] | None = None,
    asks: Coalescer | None = None,
    admission: Admission | None = None,
) -> dict[str, dict[str, Any]]:
    """Every part, fetched concurrently, the parts of one service in one call
    (``_fetch_together``); what is not there within ``budget`` is unavailable. A part whose
    service does not answer within ``part_timeout`` of the call reaching it is unavailable
    too (a protection against a service that is down or hangs; waiting in line for a
    connection under load counts only against ``budget``). With ``hidden`` (the portal's
    settings and the client), each list is asked without the items operators hid, and with
    ``asks`` a call the same session is already making joins that call. With ``admission``,
    the calls wait for the view's turn (admission.py; the wait counts against ``budget``,
    and lasts at most what leaves the parts their ``part_timeout``); a view whose every
    call it would join is under way already asks nothing new, and goes on at once."""

    by_service: dict[str, list[Part]] = {}
    for part in parts:
        by_service.setdefault(part.service, []).append(part)
    if not by_service:
        return {}
    plan = [(together, _hidden_ids(together, hidden)) for together in by_service.values()]
    new_calls = (
        asks is None
        or hidden is None
        or not all(asks.under_way(hidden[1], _key(token, t, ids)) for t, ids in plan)
    )
    if admission is None or not new_calls:
        return await _fetch_planned(upstreams, plan, token, part_timeout, budget, hidden, asks)
    async with admission.turn(within=max(0.0, budget - part_timeout)) as waited:
        return await _fetch_planned(
            upstreams, plan, token, part_timeout, budget - waited, hidden, asks
        )


def _hidden_ids(together: Sequence[Part], hidden: tuple[PortalSettings, str] | None) -> list[str]:
    if hidden is None:
        return [""] * len(together)
    return [
        hidden[0].hidden_header(p.section, p.list_key, hidden[1]).get(HIDDEN_ITEMS_HEADER, "")
        for p in together
    ]


def _key(token: str, together: Sequence[Part], ids: Sequence[str]) -> tuple[Any, ...]:
    return (token, tuple(p.name for p in together), tuple(ids))


async def _fetch_planned(
    upstreams: Upstreams,
    plan: Sequence[tuple[Sequence[Part], list[str]]],
    token: str,
    part_timeout: float,
    budget: float,
    hidden: tuple[PortalSettings, str] | None,
    asks: Coalescer | None,
) -> dict[str, dict[str, Any]]:
    tasks: dict[str, asyncio.Future[dict[str, dict[str, Any]]]] = {}  # by part name
    own: list[asyncio.Future[dict[str, dict[str, Any]]]] = []  # this view's alone
    joined: list[Flight] = []  # shared calls, joined without a task of our own around them
    for together, ids in plan:
        fetch = functools.partial(_fetch_together, upstreams, together, token, part_timeout, ids)
        if asks is None or hidden is None:
            task: asyncio.Future[dict[str, dict[str, Any]]] = asyncio.ensure_future(fetch())
            own.append(task)
        else:
            flight = asks.join(hidden[1], _key(token, together, ids), fetch)
            joined.append(flight)
            task = flight.task
        for part in together:
            tasks[part.name] = task
    try:
        done, _ = await asyncio.wait(set(tasks.values()), timeout=budget)
    finally:
        for task in own:
            task.cancel()  # no-op once done
        for flight in joined:
            if asks is not None:
                asks.leave(flight)  # cancelled if nobody else waits for it
    return {
        name: task.result()[name]
        if task in done
        else {"status": "unavailable", "detail": UNAVAILABLE}
        for name, task in tasks.items()
    }


async def dashboard_view(
    upstreams: Upstreams,
    cache: ViewCache,
    client: str,
    token: str,
    *,
    portal: PortalSettings,
    part_timeout: float,
    budget: float,
    fresh: bool = False,
    include: Sequence[Part] = (),
    admission: Admission | None = None,
) -> dict[str, Any]:
    """The customer's dashboard (with the ``include``d parts of ``OPTIONAL``): kept parts from
    ``cache`` (unless ``fresh``), the rest fetched; portal switches and hidden items applied to
    whatever is served."""
    shown = (*DASHBOARD, *include)
    wanted = [p for p in shown if portal.mode(p.section) not in ("hidden", "off")]
    kept = {} if fresh else cache.parts(client)
    missing = [p for p in wanted if p.name not in kept]
    fetched: dict[str, dict[str, Any]] = {}
    if missing:
        fill = cache.begin(client)
        try:
            fetched = await fetch_parts(
                upstreams,
                missing,
                token,
                part_timeout=part_timeout,
                budget=budget,
                hidden=(portal, client),
                asks=cache.asks,
                admission=admission,
            )
        finally:
            cache.end(fill, {n: part for n, part in fetched.items() if part["status"] == "ok"})
    if len(missing) < len(wanted):
        _SERVED_KEPT.inc(len(wanted) - len(missing))
    if missing:
        _SERVED_ASKED.inc(len(missing))
    view: dict[str, Any] = {}
    for part in shown:
        mode = portal.mode(part.section)
        if mode == "hidden":
            continue
        if mode == "off":
            view[part.name] = {"status": "suspended", "detail": portal.message(part.section)}
            continue
        view[part.name] = _visible(portal, part, kept.get(part.name) or fetched[part.name])
    # What needs the customer's attention, from the parts above (as they are shown).
    view["notices"] = {"status": "ok", "data": {"items": notices(view)}}
    return view


def _visible(portal: PortalSettings, part: Part, served: dict[str, Any]) -> dict[str, Any]:
    """``served`` without the items operators hid (a copy: kept parts are shared)."""
    data = served.get("data")
    shown = portal.visible_list(
        data, section=part.section, list_key=part.list_key, sectioned=part.sectioned_items
    )
    return served if shown is data else {**served, "data": shown}
