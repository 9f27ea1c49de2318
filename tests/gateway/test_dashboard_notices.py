"""Issue 14: what the gateway's answers must not count or list, and the dashboard's notices.

A gateway over real PostgreSQL, RabbitMQ and Redis in front of stand-in services that answer
as the real ones do (the services' own suites hold those answers to their contracts)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from ebok_gateway import repository
from ebok_gateway.app import create_app
from ebok_gateway.notices import notices
from ebok_gateway.view_cache import ALL
from ebok_shared import db
from ebok_shared.http import params
from ebok_shared.http.roles import ROLES

from tests.gateway.conftest import _upstream, gateway_settings
from tests.support.apps import serve
from tests.support.tokens import Issuer, running_issuer

CLIENT = "123456"
INVOICES = [{"invoice_number": f"{CLIENT}2601000{n}"} for n in (1, 2, 3)]
MAIN = {
    "serial": "WM-1",
    "kind": "main",
    "status": "installed",
    "last_reading": {"read_on": "2026-03-14", "leak_suspected": True},
    "last_submitted": {
        "id": "7d0f3a52-6c1e-4b7a-9a43-2f6e8b1c5d90",
        "read_on": "2026-03-15",
        "status": "rejected",
        "decision_reason": "Zdjęcie nieczytelne.",
    },
}
GARDEN = {"serial": "OG-1", "kind": "garden", "status": "installed", "last_reading": None}
PROFILE = {
    "client_number": CLIENT,
    "block_scheduled_on": "2026-11-30",
    "regulations": {
        "accepted_version": 1,
        "current_version": 1,
        "upcoming": {
            "version": 2,
            "effective_from": "2026-04-01T00:00:00+02:00",
            "summary": "Krótszy termin blokady.",
        },
    },
}
CASES: list[dict[str, Any]] = [
    {
        "id": "c-1",
        "number": "EBOK/2026/000001",
        "kind_label": "Pismo",
        "status": "answered",
        "evidence_request": None,
    },
    {
        "id": "c-2",
        "number": "EBOK/2026/000002",
        "status": "in_progress",
        "reply_due": "2026-04-01",
        "evidence_request": {"requested_at": "2026-03-05T12:00:00+00:00", "note": "Zdjęcie."},
    },
]


def _page(items: list[dict[str, Any]], size: int = 20) -> dict[str, Any]:
    return {"items": items, "page": 1, "page_size": size, "total": len(items), "pages": 1}


class Gateway:
    def __init__(self, client: TestClient, issuer: Issuer, told: list[list[str]]) -> None:
        self.client, self.issuer = client, issuer
        self.told = told  # the hidden invoices billing was told of, call by call

    def customer(self) -> dict[str, str]:
        return self.issuer.customer(CLIENT)

    def operator(self) -> dict[str, str]:
        return self.issuer.operator("op-1", ROLES)

    async def json(self, path: str) -> Any:
        resp = await self.client.get(path, headers={**self.customer(), "Cache-Control": "no-cache"})
        assert resp.status == 200, await resp.text()
        return await resp.json()

    async def portal(self, path: str, body: dict[str, Any]) -> None:
        resp = await self.client.put(
            f"/api/v1/operator/portal-settings/{path}", headers=self.operator(), json=body
        )
        assert resp.status == 200, await resp.text()


@pytest.fixture
async def gateway(database: str, amqp_url: str, bus_prefix: str) -> AsyncIterator[Gateway]:
    async def answer(data: Any) -> Any:
        async def handler(_: web.Request) -> web.Response:
            return web.json_response(data)

        return handler

    told: list[list[str]] = []

    async def billing_invoices(request: web.Request) -> web.Response:
        """As billing answers: the hidden invoices the gateway names left out before paging."""
        hidden = params.hidden_items(request)
        told.append(hidden)
        shown = [i for i in INVOICES if i["invoice_number"] not in hidden]
        page = params.page(request, 100)
        items = shown[page.offset : page.offset + page.size]
        return web.json_response(page.envelope(items, len(shown)))

    async with AsyncExitStack() as exits, running_issuer() as issuer:
        upstream = await _upstream(
            {
                "/me": await answer(PROFILE),
                "/me/invoices": billing_invoices,
                "/me/meters": await answer(
                    {
                        "items": [MAIN, GARDEN],
                        "reading_window": {
                            "open": True,
                            "always_open": False,
                            "closes_on": "2026-03-31",
                        },
                    }
                ),
                "/me/correspondence": await answer(_page(CASES, 5)),
            },
            Counter(),
        )
        exits.push_async_callback(upstream.close)
        base = str(upstream.make_url("")).rstrip("/")
        settings = gateway_settings(issuer, database, amqp_url, bus_prefix, upstream=base)
        client = await exits.enter_async_context(serve(create_app(settings)))
        yield Gateway(client, issuer, told)


async def test_a_hidden_invoice_is_not_counted_in_total(gateway: Gateway) -> None:
    await gateway.portal(f"sections/invoices/items/{CLIENT}26010002", {"hidden": True})
    listed = await gateway.json("/api/v1/me/invoices")
    assert [i["invoice_number"] for i in listed["items"]] == [
        f"{CLIENT}26010001",
        f"{CLIENT}26010003",
    ]
    assert listed["total"] == 2 and listed["pages"] == 1
    dashboard = await gateway.json("/api/v1/me/dashboard")
    assert dashboard["last_invoices"]["data"]["total"] == 2


async def test_billing_is_told_the_hidden_invoices_so_every_page_is_right(
    gateway: Gateway,
) -> None:
    """The hidden invoice stands on page 1: page 2 is still right (billing left it out)."""
    await gateway.portal(f"sections/invoices/items/{CLIENT}26010001", {"hidden": True})
    second = await gateway.json("/api/v1/me/invoices?page=2&page_size=1")
    assert [i["invoice_number"] for i in second["items"]] == [f"{CLIENT}26010003"]
    assert second["total"] == 2 and second["pages"] == 2
    # A customer cannot name hidden items for the gateway: their header is not passed on.
    resp = await gateway.client.get(
        "/api/v1/me/invoices",
        headers={**gateway.customer(), params.HIDDEN_ITEMS_HEADER: f"{CLIENT}26010002"},
    )
    listed = await resp.json()
    assert [i["invoice_number"] for i in listed["items"]] == [
        f"{CLIENT}26010002",
        f"{CLIENT}26010003",
    ]


async def test_billing_is_told_only_the_clients_own_hidden_invoices(
    gateway: Gateway, database: str
) -> None:
    """However many invoices operators hide in all, the header names the client's alone: it
    stays a few ids long (a header of every hidden id would pass aiohttp's 8 KiB limit)."""
    others = [(f"{200000 + n}26010001",) for n in range(3000)]
    conn = await db.connect(database)
    try:
        await conn.executemany(
            "INSERT INTO hidden_items (section, item_id, changed_by)"
            " VALUES ('invoices', $1, 'op-1')",
            others,
        )
    finally:
        await conn.close()
    # Hiding one of the client's through the API reloads every replica's settings.
    await gateway.portal(f"sections/invoices/items/{CLIENT}26010003", {"hidden": True})
    listed = await gateway.json("/api/v1/me/invoices")
    assert [i["invoice_number"] for i in listed["items"]] == [
        f"{CLIENT}26010001",
        f"{CLIENT}26010002",
    ]
    assert gateway.told[-1] == [f"{CLIENT}26010003"]


async def test_hiding_an_item_drops_every_kept_view(gateway: Gateway, database: str) -> None:
    """Kept dashboards were fetched with the old hidden set: a change announces "*"."""
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(database)
    writer = await db.connect(database)
    try:
        await listener.add_listener(
            repository.VIEWS_NOTIFY, lambda *args: heard.put_nowait(args[3])
        )
        await repository.set_item_hidden(writer, "invoices", "1234567890", True, "op-1")
        assert await asyncio.wait_for(heard.get(), 30) == ALL
    finally:
        await listener.close()
        await writer.close()


async def test_garden_meters_are_not_listed_while_their_section_is_hidden(
    gateway: Gateway,
) -> None:
    both = await gateway.json("/api/v1/me/meters")
    assert [m["serial"] for m in both["items"]] == ["WM-1", "OG-1"]
    await gateway.portal("sections/garden_meters", {"mode": "hidden"})
    listed = await gateway.json("/api/v1/me/meters")
    assert [m["serial"] for m in listed["items"]] == ["WM-1"]
    dashboard = await gateway.json("/api/v1/me/dashboard")
    assert [m["serial"] for m in dashboard["meters"]["data"]["items"]] == ["WM-1"]
    assert "garden_meter_requests" not in dashboard


async def test_the_dashboard_lists_what_needs_attention(gateway: Gateway) -> None:
    dashboard = await gateway.json("/api/v1/me/dashboard")
    assert dashboard["notices"]["status"] == "ok"
    items = dashboard["notices"]["data"]["items"]
    assert [(n["kind"], n["date"]) for n in items] == [
        ("block_scheduled", "2026-11-30"),
        ("leak_suspected", "2026-03-14"),
        ("reading_rejected", "2026-03-15"),
        ("evidence_needed", "2026-04-01"),
        ("case_answered", None),
        ("reading_window_open", "2026-03-31"),
        ("new_terms", "2026-04-01"),
    ]
    texts = {n["kind"]: n["text"] for n in items}
    assert "zablokowane 30 listopada 2026" in texts["block_scheduled"]
    assert "WM-1" in texts["leak_suspected"]
    assert "Zdjęcie nieczytelne." in texts["reading_rejected"]
    assert "EBOK/2026/000002" in texts["evidence_needed"]
    assert "EBOK/2026/000001" in texts["case_answered"]
    assert texts["reading_window_open"] == "Trwa okres podawania odczytów: do 31 marca 2026."
    assert "Krótszy termin blokady." in texts["new_terms"]
    by_kind = {n["kind"]: n for n in items}
    assert by_kind["evidence_needed"]["subject"] == {
        "case_id": "c-2",
        "case_number": "EBOK/2026/000002",
    }

    # A section operators hide takes its notices with it.
    await gateway.portal("sections/correspondence", {"mode": "hidden"})
    dashboard = await gateway.json("/api/v1/me/dashboard")
    kinds = [n["kind"] for n in dashboard["notices"]["data"]["items"]]
    assert "case_answered" not in kinds and "evidence_needed" not in kinds


def test_nothing_to_tell_gives_no_notices() -> None:
    calm = {
        "profile": {"status": "ok", "data": {"regulations": {"upcoming": None}}},
        "meters": {
            "status": "ok",
            "data": {"items": [GARDEN], "reading_window": {"open": True, "always_open": True}},
        },
        "open_cases": {"status": "unavailable", "detail": "…"},
    }
    assert notices(calm) == []
