"""Demo data for the local run, from the deterministic generator beside it (``deploy.demo_data``,
a development tool: no image carries it).

``python -m deploy.demo_data --clients N --seed S --out DIR --load`` writes the demo clients,
contracts, meters, invoices and payments as back-office batches and applies them through
billing's own feed command (never by writing into a service's tables); billing's outbox then
tells the other services. It prints the demo client (number, one invoice, that invoice's gross
amount) as its last line of JSON. Re-running it is harmless: the feed is idempotent.

Then each meter's reading history since its contract began, made from the same batches so
that it agrees with the invoices (the main meter moves by each invoice's water m³, a garden
meter by the water that was not charged for sewage), goes in through the readings service's
own back-office feed (``python -m ebok_readings feed readings FILE``), once readings has
learnt the meters from billing's events.

And the operator console's demo admin (``deploy.demo_admin``, local run only): its login,
password and TOTP key, printed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from deploy.demo_admin import DEMO_ADMIN, DemoAdmin
from deploy.plan import Component
from deploy.processes import Child, Output, run_to_end

DEMO_MODULE = "deploy.demo_data"
ROOT = Path(__file__).resolve().parent.parent  # where ``deploy`` is importable from
SEED = 1
ME = "local"


def print_demo_admin(output: Output, console_url: str, admin: DemoAdmin = DEMO_ADMIN) -> None:
    output.plain("  demo admin for the operator console (local run only, all four roles):")
    output.plain(f"    console          {console_url}")
    output.plain(f"    login            {admin.login}")
    output.plain(f"    password         {admin.password}")
    output.plain(f"    TOTP key         {admin.totp_secret}")
    output.plain(f"    TOTP URI         {admin.otpauth_uri}")
    output.plain("    (created when auth first started without an admin; if another admin")
    output.plain("    existed, make one: python -m ebok_auth create-admin --login L --email E)")
    output.plain()


@dataclass(frozen=True)
class DemoClient:
    client_number: str
    invoice_number: str
    gross: str


def demo_loader_installed() -> bool:
    """The generator and billing's domain rules it builds invoices with are both at hand."""
    try:
        return all(importlib.util.find_spec(m) is not None for m in (DEMO_MODULE, "ebok_billing"))
    except ModuleNotFoundError:
        return False


def demo_command(clients: int, seed: int, out: Path | str, *, load: bool = True) -> list[str]:
    argv = [sys.executable, "-m", DEMO_MODULE, "--clients", str(clients), "--seed", str(seed)]
    return [*argv, "--out", str(out), *(["--load"] if load else [])]


def demo_env(billing_env: Mapping[str, str]) -> dict[str, str]:
    """Billing's environment (its database) with this checkout importable."""
    path = os.pathsep.join(p for p in (str(ROOT), billing_env.get("PYTHONPATH", "")) if p)
    return {**billing_env, "PYTHONPATH": path}


def _demo_client(lines: list[str]) -> DemoClient | None:
    for line in reversed(lines):
        try:
            found = json.loads(line)
            return DemoClient(found["client_number"], found["invoice_number"], str(found["gross"]))
        except (ValueError, TypeError, KeyError):
            continue
    return None


async def seed_demo_data(
    billing: Component, readings: Component, clients: int, output: Output
) -> DemoClient | None:
    """Load ``clients`` demo clients through billing's feed, their reading history through
    readings' feed, and print one ready for registration. A failure is reported and leaves
    the running stack alone."""
    if clients <= 0:
        output.line(ME, "demo data: skipped (--demo-clients 0)")
        return None
    if not demo_loader_installed():
        output.line(ME, f"demo data: the demo data generator ({DEMO_MODULE}) cannot be imported")
        return None
    output.line(ME, f"demo data: loading {clients} demo clients through billing's feed")
    with tempfile.TemporaryDirectory(prefix="ebok-demo-") as out:
        argv = demo_command(clients, SEED, out)
        child = Child("billing", argv, demo_env(billing.env), output, keep_lines=200)
        code = await run_to_end(child)
        if code == 0:
            history = Path(out) / "readings.jsonl"
            rows = reading_history(Path(out), dt.date.today())
            history.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
            output.line(ME, f"demo data: {len(rows)} meter readings through readings' feed")
            await _feed_readings(readings, history, output)
    client = _demo_client(list(child.last_lines)) if code == 0 else None
    if client is None:
        output.line(ME, f"demo data: loading failed (exit code {code}); the stack runs without it")
        return None
    output.plain()
    output.plain("  demo client, ready for registration:")
    output.plain(f"    client number    {client.client_number}")
    output.plain(f"    invoice number   {client.invoice_number}")
    output.plain(f"    gross amount     {client.gross}")
    output.plain()
    return client


def _rows(folder: Path, kind: str) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_text("utf-8").splitlines()
        if line.strip() and json.loads(line).get("type") == kind
    ]


def _months_after(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, min(day.day, 28))


def reading_history(batches: Path, today: dt.date) -> list[dict[str, str]]:
    """Every demo meter's readings since its contract began, agreeing with the invoices:
    before the first invoice, an inspector's reading every six months at the client's
    average use; then a remote reading at the end of each invoiced period."""
    invoices: dict[str, list[dict[str, Any]]] = {}
    for invoice in _rows(batches, "invoice"):
        invoices.setdefault(invoice["contract_number"], []).append(invoice)
    rows: list[dict[str, str]] = []
    for contract in _rows(batches, "contract"):
        billed = sorted(invoices.get(contract["contract_number"], []), key=lambda i: i["period_to"])
        if not billed:
            continue
        main = contract["meter_serials"][0]
        gardens = contract["meter_serials"][1:]
        start = dt.date.fromisoformat(contract["concluded_on"])
        first = dt.date.fromisoformat(billed[0]["period_from"])
        days = max(1, (dt.date.fromisoformat(billed[-1]["period_to"]) - first).days)
        per_day = sum((Decimal(i["water_m3"]) for i in billed), Decimal(0)) / days
        value = {serial: Decimal(0) for serial in contract["meter_serials"]}
        day = _months_after(start, 6)
        while day < first:  # the years before the invoices the demo has
            value[main] = (per_day * (day - start).days).quantize(Decimal("0.001"))
            rows.append(_reading(main, day, value[main], "inspector"))
            day = _months_after(day, 6)
        value[main] = (per_day * (first - start).days).quantize(Decimal("0.001"))
        for invoice in billed:
            read_on = dt.date.fromisoformat(invoice["period_to"])
            if read_on >= today:
                break
            water, sewage = Decimal(invoice["water_m3"]), Decimal(invoice["sewage_m3"])
            value[main] += water
            rows.append(_reading(main, read_on, value[main], "remote"))
            for garden in gardens:
                value[garden] += water - sewage
                rows.append(_reading(garden, read_on, value[garden], "remote"))
    return rows


def _reading(serial: str, day: dt.date, value: Decimal, source: str) -> dict[str, str]:
    return {
        "meter_serial": serial,
        "read_on": day.isoformat(),
        "value": f"{value:f}",
        "source": source,
    }


async def _feed_readings(readings: Component, batch: Path, output: Output) -> None:
    """The batch through readings' feed, retried while readings is still learning the meters
    from billing's events (a batch with an unknown meter applies nothing)."""
    argv = [sys.executable, "-m", "ebok_readings", "feed", "readings", str(batch)]
    deadline = time.monotonic() + 60
    while True:
        quiet = Output(width=0, stream=io.StringIO())  # last lines are kept for a failure
        child = Child("readings", argv, readings.env, quiet, keep_lines=50)
        if await run_to_end(child) == 0:
            return
        if time.monotonic() > deadline:
            output.line(ME, "demo data: readings' feed refused the history; last lines:")
            for line in child.last_lines:
                output.plain(f"    {line}")
            return
        await asyncio.sleep(1)
