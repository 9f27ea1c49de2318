"""Billing test helpers: feed rows as the back office sends them, and billing as its tests
run it (tests.support.service), with a tap on its exchange that reads the events the real
relay publishes."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from ebok_billing.app import create_app
from ebok_billing.clients.domain import nip_with_checksum
from ebok_billing.ledger.domain import Lines
from ebok_billing.settings import BillingSettings

from tests.support.service import RunningService, running_service, settings_for_test


def client_row(
    number: str,
    *,
    kind: str = "household",
    name: str | None = None,
    email: str | None = None,
    city: str = "Warszawa",
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "type": "client",
        "client_number": number,
        "name": name or f"Klient Żółć {number}",
        "kind": kind,
        "street": f"ul. Łąkowa {number[-2:]}",
        "postal_code": "00-950",
        "city": city,
    }
    if kind == "business":
        row["nip"] = nip_with_checksum(number + "123") or nip_with_checksum(number + "124")
    if email:
        row["email"] = email
    return row


def contract_row(
    number: str,
    client: str,
    *,
    concluded_on: str = "2023-01-10",
    terminated_on: str | None = None,
    meters: list[str] | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "type": "contract",
        "contract_number": number,
        "client_number": client,
        "concluded_on": concluded_on,
        "street": "ul. Wodna 1",
        "postal_code": "00-950",
        "city": "Warszawa",
        "tariff_group": "G1",
        "meter_serials": meters if meters is not None else [f"WM-{client}-1"],
    }
    if terminated_on:
        row["terminated_on"] = terminated_on
    return row


def invoice_row(
    number: str,
    client: str,
    contract: str,
    *,
    issue_date: str = "2025-01-05",
    due_days: int = 14,
    water_m3: str = "10.000",
    sewage_m3: str | None = None,
    price: str = "5.48",
    sewage_price: str = "7.13",
    subscription: str = "12.50",
    vat_rate: str = "8",
    corrects: str | None = None,
    ksef: tuple[str, str] | None = None,
) -> dict[str, Any]:
    issue = date.fromisoformat(issue_date)
    lines = Lines(
        Decimal(water_m3),
        Decimal(price),
        Decimal(sewage_m3 or water_m3),
        Decimal(sewage_price),
        Decimal(subscription),
        Decimal(vat_rate),
    )
    row: dict[str, Any] = {
        "type": "invoice",
        "invoice_number": number,
        "client_number": client,
        "contract_number": contract,
        "issue_date": issue_date,
        "due_date": (issue + timedelta(days=due_days)).isoformat(),
        "period_from": (issue - timedelta(days=35)).replace(day=1).isoformat(),
        "period_to": (issue.replace(day=1) - timedelta(days=1)).isoformat(),
        "water_m3": water_m3,
        "water_price": price,
        "sewage_m3": sewage_m3 or water_m3,
        "sewage_price": sewage_price,
        "subscription_net": subscription,
        "vat_rate": vat_rate,
        "net": f"{lines.net:.2f}",
        "vat": f"{lines.vat:.2f}",
        "gross": f"{lines.gross:.2f}",
    }
    if corrects:
        row["corrects"] = corrects
    if ksef:
        row["ksef_number"], row["ksef_hash"] = ksef
    return row


def gross_of(row: dict[str, Any]) -> Decimal:
    return Decimal(row["gross"])


def payment_row(pid: str, client: str, invoice: str, paid_on: str, amount: str) -> dict[str, Any]:
    return {
        "type": "payment",
        "payment_id": pid,
        "client_number": client,
        "invoice_number": invoice,
        "paid_on": paid_on,
        "amount": amount,
    }


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return ("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n").encode()


billing_settings = partial(settings_for_test, BillingSettings, retry_delays=(0.2, 0.5))


class Billing(RunningService[BillingSettings]):
    async def feed(
        self, rows: list[dict[str, Any]] | bytes, *, fmt: str = "jsonl", expect: int | None = 201
    ) -> dict[str, Any]:
        body = rows if isinstance(rows, bytes) else jsonl(rows)
        content_type = "text/csv" if fmt == "csv" else "application/x-ndjson"
        resp = await self.client.post(
            "/operator/feed/batches",
            data=body,
            headers={**self.issuer.operator(roles=("billing",)), "Content-Type": content_type},
        )
        data: dict[str, Any] = await resp.json(content_type=None)
        if expect is not None:
            assert resp.status == expect, data
        return data

    async def get(self, path: str, client_number: str, expect: int = 200) -> Any:
        resp = await self.client.get(path, headers=self.issuer.customer(client_number))
        assert resp.status == expect, await resp.text()
        if resp.content_type.endswith("json"):
            return await resp.json()
        return await resp.read()


# Billing's real app, with a tap on its exchange reading what the real relay publishes.
running_billing = partial(running_service, create_app, tap=["billing"], service_type=Billing)
