"""Demo data (a development tool, not shipped in any image): N clients with contracts,
meters, two years of invoices and payments (some late, so interest notes follow), written as
back-office batches and loaded as the back office would, through billing's own feed command
(``python -m ebok_billing feed FILE…``), never into the tables directly.

``python -m deploy.demo_data --clients N --seed S --out DIR [--load]`` writes the batches to
DIR (and with ``--load`` applies them to ``EBOK_DATABASE_URL``); its last line on stdout is
the demo client as JSON (number, one invoice, that invoice's gross amount).

Deterministic: the same ``seed`` and ``today`` give the same batches, and each client's
data depends only on the seed and its own number (client 100001 is the same whether 20 or
10,000 clients are generated).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ebok_billing.clients.domain import nip_with_checksum
from ebok_billing.ledger.domain import Lines
from ebok_shared.clock import clock

FIRST_CLIENT = 100001
BATCH_ROWS = 100_000
INVOICES_PER_CLIENT = 12  # two years, billed every two months
KSEF_FROM = date(2026, 2, 1)

_FIRST = (
    "Jan",
    "Anna",
    "Piotr",
    "Małgorzata",
    "Krzysztof",
    "Agnieszka",
    "Tomasz",
    "Katarzyna",
    "Paweł",
    "Zofia",
    "Łukasz",
    "Żaneta",
    "Michał",
    "Ewa",
    "Grzegorz",
    "Joanna",
    "Wojciech",
    "Magdalena",
    "Andrzej",
    "Elżbieta",
)
_LAST = (
    "Kowalski",
    "Nowak",
    "Wiśniewski",
    "Wójcik",
    "Kamiński",
    "Lewandowski",
    "Zieliński",
    "Szymański",
    "Woźniak",
    "Dąbrowski",
    "Kozłowski",
    "Jankowski",
    "Mazur",
    "Krawczyk",
    "Piotrowski",
    "Grabowski",
    "Nowakowski",
    "Pawłowski",
    "Michalski",
    "Król",
)
_STREETS = (
    "ul. Żelazna",
    "ul. Świętokrzyska",
    "ul. Marszałkowska",
    "ul. Grójecka",
    "al. Jerozolimskie",
    "ul. Puławska",
    "ul. Wołoska",
    "ul. Łucka",
    "ul. Złota",
    "ul. Mokotowska",
    "ul. Ząbkowska",
    "ul. Targowa",
    "ul. Słowackiego",
    "ul. Górczewska",
    "ul. Wawelska",
    "ul. Nowogrodzka",
)
_FIRMS = (
    "Piekarnia",
    "Zakład Ślusarski",
    "Pralnia",
    "Warsztat Samochodowy",
    "Kwiaciarnia",
    "Przychodnia",
    "Restauracja",
    "Hotel",
)
# (valid from, water price, sewage price) per m³ net; subscription per period; VAT 8 %.
_PRICES = (
    (date(2000, 1, 1), Decimal("5.48"), Decimal("7.13")),
    (date(2025, 1, 1), Decimal("5.74"), Decimal("7.45")),
    (date(2026, 1, 1), Decimal("5.97"), Decimal("7.76")),
)
_SUBSCRIPTION = Decimal("12.50")
_VAT = Decimal("8")


@dataclass(frozen=True)
class DemoClient:
    """A client ready for registration in e-BOK: its number, one invoice and its gross."""

    client_number: str
    invoice_number: str
    gross: str


@dataclass
class DemoData:
    batches: list[tuple[str, list[dict[str, Any]]]]
    demo_client: DemoClient

    def encoded(self) -> list[tuple[str, bytes]]:
        return [(name, _jsonl(rows)) for name, rows in self.batches]


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    return ("\n".join(map(dumps, rows)) + "\n").encode()


def _prices(day: date) -> tuple[Decimal, Decimal]:
    water, sewage = _PRICES[0][1:]
    for start, w, s in _PRICES:
        if day >= start:
            water, sewage = w, s
    return water, sewage


def _months_back(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _ascii(text: str) -> str:
    table = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")
    return text.translate(table).lower()


def generate(clients: int, seed: int = 1, today: date | None = None) -> DemoData:
    if not 1 <= clients <= 899_999:
        raise ValueError("clients must be 1-899999")
    today = today or clock.today()
    client_rows: list[dict[str, Any]] = []
    contract_rows: list[dict[str, Any]] = []
    invoice_rows: list[dict[str, Any]] = []
    payment_rows: list[dict[str, Any]] = []
    demo: DemoClient | None = None
    for i in range(clients):
        number = str(FIRST_CLIENT + i)
        rng = random.Random(f"{seed}:{number}")
        invoices = _client(
            rng, number, today, client_rows, contract_rows, invoice_rows, payment_rows
        )
        if demo is None and client_rows[-1]["kind"] == "household" and invoices:
            last = invoices[-1]
            demo = DemoClient(number, last["invoice_number"], last["gross"])
    if demo is None:  # only businesses, or nothing issued yet
        last = invoice_rows[-1]
        demo = DemoClient(last["client_number"], last["invoice_number"], last["gross"])
    batches: list[tuple[str, list[dict[str, Any]]]] = [
        ("01-clients", client_rows),
        ("02-contracts", contract_rows),
    ]
    for name, rows in (("03-invoices", invoice_rows), ("04-payments", payment_rows)):
        for part, start in enumerate(range(0, len(rows), BATCH_ROWS), start=1):
            batches.append((f"{name}-{part:03d}", rows[start : start + BATCH_ROWS]))
    return DemoData(batches, demo)


def _client(
    rng: random.Random,
    number: str,
    today: date,
    clients: list[dict[str, Any]],
    contracts: list[dict[str, Any]],
    invoices: list[dict[str, Any]],
    payments: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    business = rng.random() < 0.1
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    if first.endswith("a") and last.endswith("ski"):
        last = last[:-1] + "a"
    street = f"{rng.choice(_STREETS)} {rng.randint(1, 180)}"
    if not business and rng.random() < 0.6:
        street += f" m. {rng.randint(1, 120)}"
    postal = f"0{rng.randint(0, 4)}-{rng.randint(1, 999):03d}"
    client: dict[str, Any] = {
        "type": "client",
        "client_number": number,
        "kind": "business" if business else "household",
        "street": street,
        "postal_code": postal,
        "city": "Warszawa",
    }
    if business:
        client["name"] = f"{rng.choice(_FIRMS)} „{last}” sp. z o.o."
        head = rng.randint(100, 999)
        nip = None
        while nip is None:  # one prefix in eleven has no valid check digit
            nip = nip_with_checksum(f"{head}{number}")
            head = head % 899 + 101
        client["nip"] = nip
    else:
        client["name"] = f"{first} {last}"
    if rng.random() < 0.7:
        client["email"] = f"{_ascii(first)}.{_ascii(last)}.{number}@example.pl"
    clients.append(client)

    concluded = today - timedelta(days=rng.randint(800, 4000))
    meters = [f"WM-{number}-1"]
    garden = not business and rng.random() < 0.15
    if garden:
        meters.append(f"WG-{number}-1")
    contract_number = f"U/{number}/{concluded.year}"
    contract: dict[str, Any] = {
        "type": "contract",
        "contract_number": contract_number,
        "client_number": number,
        "concluded_on": concluded.isoformat(),
        "street": street,
        "postal_code": postal,
        "city": "Warszawa",
        "tariff_group": "B1" if business else "G1",
        "meter_serials": meters,
    }
    terminated = rng.random() < 0.03
    last_issue = today
    if terminated:
        end = today - timedelta(days=rng.randint(5, 60))
        contract["terminated_on"] = end.isoformat()
        last_issue = end
    contracts.append(contract)

    issued = []
    usage = Decimal(rng.randint(40, 90) if business else rng.randint(5, 16))
    first_month = _months_back(today, 2 * INVOICES_PER_CLIENT - 1)
    for k in range(INVOICES_PER_CLIENT):
        month = _months_back(first_month, -2 * k)
        issue = month.replace(day=rng.randint(3, 8))
        if issue > last_issue:
            break
        period_to = month - timedelta(days=1)
        period_from = _months_back(period_to, 1)
        water = (usage * Decimal(rng.uniform(0.7, 1.3))).quantize(Decimal("0.001"))
        garden_m3 = Decimal("0.000")
        if garden and period_to.month in (6, 7, 8, 9):
            garden_m3 = min(water, Decimal(rng.randint(1, 8))).quantize(Decimal("0.001"))
        water_price, sewage_price = _prices(issue)
        lines = Lines(water, water_price, water - garden_m3, sewage_price, _SUBSCRIPTION, _VAT)
        invoice_number = f"{number}{issue:%y%m}{k + 1:04d}"
        due = issue + timedelta(days=14)
        row: dict[str, Any] = {
            "type": "invoice",
            "invoice_number": invoice_number,
            "client_number": number,
            "contract_number": contract_number,
            "issue_date": issue.isoformat(),
            "due_date": due.isoformat(),
            "period_from": period_from.isoformat(),
            "period_to": period_to.isoformat(),
            "water_m3": f"{lines.water_m3:f}",
            "water_price": f"{water_price:f}",
            "sewage_m3": f"{lines.sewage_m3:f}",
            "sewage_price": f"{sewage_price:f}",
            "subscription_net": f"{_SUBSCRIPTION:f}",
            "vat_rate": f"{_VAT:f}",
            "net": f"{lines.net:f}",
            "vat": f"{lines.vat:f}",
            "gross": f"{lines.gross:f}",
        }
        if business and issue >= KSEF_FROM:
            digest = hashlib.sha256(invoice_number.encode()).digest()
            row["ksef_number"] = (
                f"5250000009-{issue:%Y%m%d}-{digest[:6].hex().upper()}-{digest[6]:02X}"
            )
            row["ksef_hash"] = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        invoices.append(row)
        issued.append(row)
        _pay(rng, row, lines.gross, issue, due, today, payments, business=business)
    return issued


def _pay(
    rng: random.Random,
    invoice: dict[str, Any],
    gross: Decimal,
    issue: date,
    due: date,
    today: date,
    payments: list[dict[str, Any]],
    *,
    business: bool,
) -> None:
    roll = rng.random()
    if (today - issue).days < 20 and roll < 0.6:
        return  # recent: not paid yet
    if roll < 0.03:
        return  # never paid: overdue, accruing interest
    # Businesses pay on time: a late one owes the recovery compensation, converted at an
    # NBP EUR rate the operator enters (the table ships only rates known for sure).
    late = roll > 0.82 and not business
    paid_on = (
        due + timedelta(days=rng.randint(1, 75))
        if late
        else due - timedelta(days=rng.randint(0, 10))
    )
    paid_on = max(issue, min(paid_on, today))
    base = {
        "type": "payment",
        "client_number": invoice["client_number"],
        "invoice_number": invoice["invoice_number"],
    }
    if 0.03 <= roll < 0.08 and gross > Decimal("20"):
        part = (gross * Decimal("0.5")).quantize(Decimal("0.01"))
        first_on = max(issue, min(due - timedelta(days=2), today))
        payments.append(
            {
                **base,
                "payment_id": f"P{invoice['invoice_number']}1",
                "paid_on": first_on.isoformat(),
                "amount": f"{part:f}",
            }
        )
        payments.append(
            {
                **base,
                "payment_id": f"P{invoice['invoice_number']}2",
                "paid_on": paid_on.isoformat(),
                "amount": f"{gross - part:f}",
            }
        )
        return
    payments.append(
        {
            **base,
            "payment_id": f"P{invoice['invoice_number']}1",
            "paid_on": paid_on.isoformat(),
            "amount": f"{gross:f}",
        }
    )


def write(data: DemoData, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, body in data.encoded():
        path = out / f"{name}.jsonl"
        path.write_bytes(body)
        paths.append(path)
    return paths


def write_shards(data: DemoData, out: Path, workers: int) -> list[list[Path]]:
    """The batches split by client into ``workers`` shards (``DIR/load-K/``), each in the
    feed's order (clients, contracts, invoices, payments): a client's rows are all in one
    shard, so shards loaded side by side never wait for or race each other."""
    count = max(1, workers)
    shards: list[list[Path]] = [[] for _ in range(count)]
    for name, rows in data.batches:
        parts: list[list[dict[str, Any]]] = [[] for _ in range(count)]
        for row in rows:
            parts[int(row["client_number"]) % count].append(row)
        for index, part in enumerate(parts):
            if part:
                folder = out / f"load-{index}"
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{name}-{count}.{index}.jsonl"
                path.write_bytes(_jsonl(part))
                shards[index].append(path)
    return [shard for shard in shards if shard]


def feed_command(paths: list[Path]) -> list[str]:
    """Billing's own feed command, as the back office runs it."""
    return [sys.executable, "-m", "ebok_billing", "feed", *map(str, paths)]


def load(database_url: str, shards: list[list[Path]], env: Mapping[str, str] | None = None) -> None:
    """Apply each shard through billing's feed command, the shards side by side (the feed
    migrates the database first; migrations and the packaged rates go in once, under their
    locks). Raises ``RuntimeError`` naming the first refused batch."""
    child_env = {**(os.environ if env is None else env), "EBOK_DATABASE_URL": database_url}
    children = [
        subprocess.Popen(feed_command(shard), env=child_env, stdout=subprocess.PIPE, text=True)
        for shard in shards
    ]
    refused: list[str] = []
    for child in children:
        printed, _ = child.communicate()
        results = [json.loads(line) for line in printed.splitlines() if line.startswith("{")]
        for r in results:
            if r.get("status") != "applied":
                refused.append(f"{r['file']}: {r.get('errors', r.get('error'))}")
        if child.returncode != 0 and not refused:
            refused.append(f"billing's feed exited with code {child.returncode}")
    if refused:
        raise RuntimeError("demo batch rejected: " + "; ".join(refused)[:2000])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.demo_data")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--load", action="store_true", help="apply them to EBOK_DATABASE_URL")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="loading processes (by client)"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    data = generate(args.clients, args.seed)
    paths = write(data, args.out)
    print(
        f"demo data: wrote {len(paths)} batch file(s) to {args.out} "
        f"in {time.perf_counter() - started:.1f}s",
        file=sys.stderr,
    )
    if args.load:
        database_url = os.environ.get("EBOK_DATABASE_URL")
        if not database_url:
            print("demo data: --load needs EBOK_DATABASE_URL", file=sys.stderr)
            return 2
        try:
            load(database_url, write_shards(data, args.out, args.workers))
        except RuntimeError as exc:
            print(f"demo data: {exc}", file=sys.stderr)
            return 1
        print(f"demo data: loaded in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    print(json.dumps(data.demo_client.__dict__))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
