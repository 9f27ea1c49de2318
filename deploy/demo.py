"""Demo data for the local run, from billing's deterministic generator (``ebok_billing.demo``).

``python -m ebok_billing demo --clients N --seed S --out DIR --load`` writes the demo clients,
contracts, meters, invoices and payments as back-office batches and applies them through
billing's own feed (never by writing into a service's tables); billing's outbox then tells
the other services. It prints the demo client (number, one invoice, that invoice's gross
amount) as its last line of JSON. Re-running it is harmless: the feed is idempotent.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
from dataclasses import dataclass

from deploy.plan import Component
from deploy.processes import Child, Output, run_to_end

DEMO_MODULE = "ebok_billing.demo"
SEED = 1
ME = "local"


@dataclass(frozen=True)
class DemoClient:
    client_number: str
    invoice_number: str
    gross: str


def demo_loader_installed() -> bool:
    try:
        return importlib.util.find_spec(DEMO_MODULE) is not None
    except ModuleNotFoundError:
        return False


def _demo_client(lines: list[str]) -> DemoClient | None:
    for line in reversed(lines):
        try:
            found = json.loads(line)
            return DemoClient(found["client_number"], found["invoice_number"], str(found["gross"]))
        except (ValueError, TypeError, KeyError):
            continue
    return None


async def seed_demo_data(billing: Component, clients: int, output: Output) -> DemoClient | None:
    """Load ``clients`` demo clients through billing's feed and print one ready for
    registration. A failure is reported and leaves the running stack alone."""
    if clients <= 0:
        output.line(ME, "demo data: skipped (--demo-clients 0)")
        return None
    if not demo_loader_installed():
        output.line(ME, f"demo data: no demo data loader is installed yet ({DEMO_MODULE})")
        return None
    output.line(ME, f"demo data: loading {clients} demo clients through billing's feed")
    with tempfile.TemporaryDirectory(prefix="ebok-demo-") as out:
        argv = [sys.executable, "-m", "ebok_billing", "demo", "--clients", str(clients)]
        argv += ["--seed", str(SEED), "--out", out, "--load"]
        child = Child("billing", argv, billing.env, output, keep_lines=200)
        code = await run_to_end(child)
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
