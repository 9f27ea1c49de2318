"""The local run's demo reading history agrees with the demo invoices it is made from."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from deploy.demo import demo_command, demo_env, demo_loader_installed, reading_history


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not demo_loader_installed():
        pytest.skip("the demo generator is not installed")
    out = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "EBOK_DATABASE_URL": "postgresql://unused@127.0.0.1/unused"}
    argv = demo_command(40, 1, out, load=False)
    subprocess.run(argv, check=True, env=demo_env(env), capture_output=True)
    return out


def _rows(folder: Path, kind: str) -> list[dict[str, Any]]:
    lines = (line for p in sorted(folder.glob("*.jsonl")) for line in p.read_text().splitlines())
    return [row for row in map(json.loads, lines) if row["type"] == kind]


def test_each_invoice_period_moves_the_main_meter_by_its_water(batches: Path) -> None:
    today = dt.date.today()
    history = reading_history(batches, today)
    by_meter: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for row in history:
        by_meter[row["meter_serial"]][row["read_on"]] = Decimal(row["value"])
    contracts = {c["contract_number"]: c["meter_serials"] for c in _rows(batches, "contract")}
    checked = 0
    for invoice in _rows(batches, "invoice"):
        main, *gardens = contracts[invoice["contract_number"]]
        start = dt.date.fromisoformat(invoice["period_from"]) - dt.timedelta(days=1)
        end = invoice["period_to"]
        if start.isoformat() in by_meter[main] and end in by_meter[main]:
            moved = by_meter[main][end] - by_meter[main][start.isoformat()]
            assert moved == Decimal(invoice["water_m3"]), (main, invoice["invoice_number"])
            for garden in gardens:
                used = by_meter[garden][end] - by_meter[garden].get(start.isoformat(), Decimal(0))
                assert used == Decimal(invoice["water_m3"]) - Decimal(invoice["sewage_m3"])
            checked += 1
    assert checked > 100  # most invoices follow another one


def test_history_starts_after_the_contract_and_never_goes_back(batches: Path) -> None:
    history = reading_history(batches, dt.date.today())
    concluded = {
        serial: c["concluded_on"]
        for c in _rows(batches, "contract")
        for serial in c["meter_serials"]
    }
    last: dict[str, tuple[str, Decimal]] = {}
    for row in history:
        serial, day, value = row["meter_serial"], row["read_on"], Decimal(row["value"])
        assert day > concluded[serial]
        if serial in last:
            assert (day, value) >= last[serial], (serial, day)
        last[serial] = (day, value)
    assert {r["source"] for r in history} == {"inspector", "remote"}
