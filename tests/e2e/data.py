"""The back office's data for the end-to-end tests: household clients, each with a contract,
a main water meter, three invoices and a payment, written as one JSON-lines batch and loaded
through billing's own CLI (``python -m ebok_billing feed FILE``), as the utility would.

Billing's outbox then tells auth (who may register), readings (whose meters) and
correspondence (whose invoices and meters); ``wait_until_known`` waits for those
projections before a test registers anyone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from ebok_billing.ledger.domain import Lines
from ebok_shared import db

from .stack import Stack

WATER_PRICE, SEWAGE_PRICE = Decimal("5.97"), Decimal("7.76")
SUBSCRIPTION, VAT = Decimal("12.50"), Decimal("8")


@dataclass(frozen=True)
class Customer:
    client_number: str
    email: str
    contract_number: str
    meter: str
    invoices: tuple[tuple[str, str], ...]  # (number, gross), oldest first

    @property
    def invoice_number(self) -> str:
        return self.invoices[-1][0]

    @property
    def gross(self) -> str:
        return self.invoices[-1][1]


def _months_back(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def customer_rows(number: str, today: dt.date) -> tuple[Customer, list[dict[str, Any]]]:
    email = f"klient.{number}@example.pl"
    contract = f"U/{number}/2021"
    meter = f"WM-{number}-1"
    street = f"ul. Testowa {int(number) % 100 + 1}"
    rows: list[dict[str, Any]] = [
        {
            "type": "client",
            "client_number": number,
            "kind": "household",
            "name": f"Klient Testowy {number}",
            "email": email,
            "street": street,
            "postal_code": "00-950",
            "city": "Warszawa",
        },
        {
            "type": "contract",
            "contract_number": contract,
            "client_number": number,
            "concluded_on": "2021-03-01",
            "street": street,
            "postal_code": "00-950",
            "city": "Warszawa",
            "tariff_group": "G1",
            "meter_serials": [meter],
        },
    ]
    invoices = []
    for k, months in enumerate((6, 4, 2), start=1):
        month = _months_back(today, months)
        issue = month.replace(day=5)
        water = Decimal(8 + k).quantize(Decimal("0.001"))
        lines = Lines(water, WATER_PRICE, water, SEWAGE_PRICE, SUBSCRIPTION, VAT)
        invoice_number = f"{number}{issue:%y%m}{k:04d}"
        rows.append(
            {
                "type": "invoice",
                "invoice_number": invoice_number,
                "client_number": number,
                "contract_number": contract,
                "issue_date": issue.isoformat(),
                "due_date": (issue + dt.timedelta(days=14)).isoformat(),
                "period_from": _months_back(issue, 2).isoformat(),
                "period_to": (month - dt.timedelta(days=1)).isoformat(),
                "water_m3": f"{lines.water_m3:f}",
                "water_price": f"{WATER_PRICE:f}",
                "sewage_m3": f"{lines.sewage_m3:f}",
                "sewage_price": f"{SEWAGE_PRICE:f}",
                "subscription_net": f"{SUBSCRIPTION:f}",
                "vat_rate": f"{VAT:f}",
                "net": f"{lines.net:f}",
                "vat": f"{lines.vat:f}",
                "gross": f"{lines.gross:f}",
            }
        )
        invoices.append((invoice_number, f"{lines.gross:f}"))
    first_number, first_gross = invoices[0]
    rows.append(
        {
            "type": "payment",
            "payment_id": f"P{first_number}",
            "client_number": number,
            "invoice_number": first_number,
            "paid_on": (_months_back(today, 6).replace(day=15)).isoformat(),
            "amount": first_gross,
        }
    )
    return Customer(number, email, contract, meter, tuple(invoices)), rows


async def load_customers(stack: Stack, numbers: list[str], workdir: Path) -> list[Customer]:
    """Write the batch, feed it through billing's CLI, wait until the others know it."""
    today = dt.date.today()
    customers, lines = [], []
    for number in numbers:
        customer, rows = customer_rows(number, today)
        customers.append(customer)
        lines += rows
    # The feed takes records of one type per position in order: clients, contracts, …
    order = {"client": 0, "contract": 1, "invoice": 2, "payment": 3}
    lines.sort(key=lambda r: order[r["type"]])
    path = workdir / "e2e-batch.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), "utf-8")
    code, printed = await stack.run("billing", "feed", str(path))
    assert code == 0, "billing's feed refused the batch:\n" + "\n".join(printed[-20:])
    await wait_until_known(stack, customers)
    return customers


async def wait_until_known(stack: Stack, customers: list[Customer], within: float = 60) -> None:
    """Until auth, readings and correspondence have applied billing's events about them
    (their own projections, each in its own database)."""
    invoices = [number for c in customers for number, _ in c.invoices]
    meters = [c.meter for c in customers]
    checks = {
        "auth": ("SELECT count(*) FROM invoices WHERE invoice_number = ANY($1)", invoices),
        "readings": ("SELECT count(*) FROM meters WHERE serial = ANY($1)", meters),
        "correspondence": (
            "SELECT count(*) FROM known_invoices WHERE invoice_number = ANY($1)",
            invoices,
        ),
    }
    deadline = time.monotonic() + within
    for service, (query, wanted) in checks.items():
        conn = await db.connect(stack.database_url(service))
        try:
            while await conn.fetchval(query, wanted) < len(wanted):
                assert time.monotonic() < deadline, f"{service} never learnt billing's data"
                await asyncio.sleep(0.2)
        finally:
            await conn.close()
