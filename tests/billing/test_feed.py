"""The back-office feed: whole batches applied or rejected, idempotent, errors named."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from ebok_billing.feed import domain as feed
from ebok_billing.feed.domain import Known

from tests.billing.helpers import (
    Billing,
    client_row,
    contract_row,
    invoice_row,
    jsonl,
    payment_row,
)

TODAY = date(2026, 3, 1)


async def _counts(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        return {
            t: await conn.fetchval(f"SELECT count(*) FROM {t}")
            for t in ("clients", "contracts", "invoices", "payments", "interest_notes")
        }
    finally:
        await conn.close()


def _basic_rows() -> list[dict[str, Any]]:
    return [
        client_row("100001", email="jan@example.pl"),
        contract_row("U/100001/2023", "100001"),
        invoice_row("10000125010001", "100001", "U/100001/2023", issue_date="2025-01-05"),
        invoice_row("10000125030002", "100001", "U/100001/2023", issue_date="2025-03-05"),
        payment_row("P-1", "100001", "10000125010001", "2025-01-15", "149.69"),
    ]


async def test_a_batch_applies_once_and_resending_it_changes_nothing(
    billing: Billing, database: str
) -> None:
    rows = _basic_rows()
    first = await billing.feed(rows)
    assert first["status"] == "applied" and first["replayed"] is False
    assert first["summary"]["clients"] == {"created": 1, "updated": 0, "unchanged": 0}
    assert first["summary"]["invoices"]["created"] == 2
    events = await billing.tap.take(5)
    assert [e.type for e in events] == [
        "billing.client.upserted",
        "billing.contract.concluded",
        "billing.invoice.issued",
        "billing.invoice.issued",
        "billing.payment.posted",
    ]
    assert events[4].payload == {
        "payment_id": "P-1",
        "client_number": "100001",
        "invoice_number": "10000125010001",
        "paid_on": "2025-01-15",
        "amount": "149.69",
        "invoice_status": "paid",
        "late": False,
        "note_number": None,
        "allocations": [
            {"invoice_number": "10000125010001", "note_number": None, "amount": "149.69"}
        ],
        "overpaid": "0.00",
    }
    before = await _counts(database)

    again = await billing.feed(rows, expect=200)  # the very same bytes
    assert again["replayed"] is True and again["batch_id"] == first["batch_id"]
    reordered = await billing.feed(list(reversed(rows)))  # the same records, another batch
    assert reordered["summary"]["events"] == 0
    assert reordered["summary"]["clients"]["unchanged"] == 1
    assert reordered["summary"]["payments"]["unchanged"] == 1
    assert await _counts(database) == before

    # Events of one client leave in order: the next one seen must be this change, so the
    # two re-sent batches published nothing.
    await billing.feed([client_row("100001", email="jan.nowy@example.pl")])
    (changed,) = await billing.tap.take(1)
    assert changed.type == "billing.client.upserted"
    assert changed.payload["email"] == "jan.nowy@example.pl"


async def test_one_bad_row_rejects_the_batch_and_names_line_field_reason(
    billing: Billing, database: str
) -> None:
    rows = _basic_rows()
    rows[4]["amount"] = "-149.69"
    resp = await billing.client.post(
        "/operator/feed/batches",
        data=jsonl(rows),
        headers={
            **billing.issuer.operator(roles=("billing",)),
            "Content-Type": "application/x-ndjson",
        },
    )
    assert resp.status == 422
    assert resp.content_type == "application/problem+json"
    problem = await resp.json()
    assert problem["code"] == "feed-batch-rejected"
    assert problem["errors"] == [
        {"line": 5, "field": "amount", "reason": "wartość nie może być ujemna"}
    ]
    assert await _counts(database) == dict.fromkeys(
        ("clients", "contracts", "invoices", "payments", "interest_notes"), 0
    )
    report = await billing.client.get(
        f"/operator/feed/batches/{problem['batch_id']}",
        headers=billing.issuer.operator(roles=("billing",)),
    )
    assert (await report.json())["status"] == "rejected"


def _hundred_thousand_rows() -> list[dict[str, Any]]:
    """1,000 clients with a contract, 49 invoices and 49 payments each."""
    rows: list[dict[str, Any]] = []
    template = invoice_row("0", "0", "0", issue_date="2025-01-05")
    for c in range(1000):
        number = str(200000 + c)
        contract = f"U/{number}/2023"
        rows.append(client_row(number))
        rows.append(contract_row(contract, number))
        for k in range(1, 50):
            invoice = f"{number}2501{k:04d}"
            rows.append(
                {
                    **template,
                    "invoice_number": invoice,
                    "client_number": number,
                    "contract_number": contract,
                }
            )
            rows.append(
                payment_row(f"P{invoice}", number, invoice, "2025-01-10", template["gross"])
            )
    return rows


async def test_a_batch_of_100000_rows_with_one_bad_row_applies_nothing(
    billing: Billing, database: str
) -> None:
    rows = _hundred_thousand_rows()
    assert len(rows) == 100_000
    bad_line = 73_210
    assert rows[bad_line - 1]["type"] == "payment"
    rows[bad_line - 1] = {**rows[bad_line - 1], "amount": "-12.00"}
    resp = await billing.client.post(
        "/operator/feed/batches",
        data=jsonl(rows),
        headers={
            **billing.issuer.operator(roles=("billing",)),
            "Content-Type": "application/x-ndjson",
        },
    )
    problem = await resp.json()
    assert resp.status == 422, problem
    assert problem["error_count"] == 1
    assert problem["errors"] == [
        {"line": bad_line, "field": "amount", "reason": "wartość nie może być ujemna"}
    ]
    assert await _counts(database) == dict.fromkeys(
        ("clients", "contracts", "invoices", "payments", "interest_notes"), 0
    )


async def test_csv_batches_read_like_json_lines(billing: Billing) -> None:
    rows = _basic_rows()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=feed.ALL_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("|".join(v) if isinstance(v, list) else v) for k, v in row.items()})
    result = await billing.feed(out.getvalue().encode(), fmt="csv")
    assert result["summary"]["payments"]["created"] == 1
    listed = await billing.get("/me/invoices", "100001")
    assert [i["invoice_number"] for i in listed["items"]] == ["10000125030002", "10000125010001"]


async def test_contract_termination_and_correction(billing: Billing) -> None:
    rows = _basic_rows()
    rows.append(contract_row("U/100001/2024", "100001", concluded_on="2024-02-01"))
    await billing.feed(rows)
    correction = invoice_row(
        "10000125040003",
        "100001",
        "U/100001/2023",
        issue_date="2025-04-02",
        water_m3="-2.000",
        subscription="0.00",
        corrects="10000125030002",
    )
    ended = contract_row("U/100001/2023", "100001", terminated_on="2025-12-31")
    result = await billing.feed([ended, correction])
    assert result["summary"]["contracts"]["updated"] == 1
    terminated = await billing.tap.until("billing.contract.terminated")
    assert terminated.payload == {
        "contract_number": "U/100001/2023",
        "client_number": "100001",
        "terminated_on": "2025-12-31",
        "active_contracts_left": 1,
    }
    issued = await billing.tap.until("billing.invoice.issued", invoice_number="10000125040003")
    assert issued.payload["gross"].startswith("-")
    original = await billing.get("/me/invoices/10000125030002", "100001")
    assert original["status"] == "corrected"
    assert original["corrected_by"] == ["10000125040003"]
    listed = await billing.get("/me/contracts", "100001")
    assert {c["contract_number"]: c["status"] for c in listed["items"]} == {
        "U/100001/2023": "terminated",
        "U/100001/2024": "active",
    }


def _check(rows: list[dict[str, Any]], known: Known | None = None) -> list[tuple[int, str, str]]:
    batch = feed.parse(jsonl(rows), "jsonl", max_rows=1000, today=TODAY)
    if not batch.errors:
        feed.check_references(batch, known or Known())
    return [(e.line, e.field, e.reason) for e in batch.errors]


BASE = [client_row("100001"), contract_row("U/100001/2023", "100001")]
INVOICE = invoice_row("10000125010001", "100001", "U/100001/2023")


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ({**client_row("1000X1")}, "client_number", "nieprawidłowy format (6 cyfr)"),
        (
            {**INVOICE, "invoice_number": "20000125010001"},
            "invoice_number",
            "numer faktury musi zaczynać się numerem klienta",
        ),
        ({**INVOICE, "invoice_number": "1000012501"}, None, None),  # 10 digits is fine
        (
            {**INVOICE, "invoice_number": "100001-2501"},
            "invoice_number",
            "nieprawidłowy format (10–20 cyfr)",
        ),
        ({**INVOICE, "gross": "-149.69"}, "gross", "wartość nie może być ujemna"),
        (
            {**INVOICE, "gross": 149.69},
            "gross",
            'kwotę i ilość podaje się jako tekst, np. "133.33"',
        ),
        ({**INVOICE, "gross": "150.00"}, "gross", "brutto musi być sumą netto i VAT (149.69)"),
        (
            {**INVOICE, "due_date": "2025-01-01"},
            "due_date",
            "termin płatności wcześniejszy niż data wystawienia",
        ),
        (
            {**INVOICE, "issue_date": "2025-02-30"},
            "issue_date",
            "nieprawidłowa data (oczekiwano RRRR-MM-DD)",
        ),
        (
            {**INVOICE, "contract_number": "U/999999/2023"},
            "contract_number",
            "nieznana umowa U/999999/2023",
        ),
        ({**INVOICE, "colour": "blue"}, "colour", "pole nie należy do rekordu typu invoice"),
        (
            contract_row(
                "U/100001/2020", "100001", concluded_on="2020-05-01", terminated_on="2020-04-30"
            ),
            "terminated_on",
            "data rozwiązania wcześniejsza niż data zawarcia umowy",
        ),
        (contract_row("U/100002/2020", "100002"), "client_number", "nieznany klient 100002"),
        (
            {**client_row("100003", kind="business"), "nip": "1234567890"},
            "nip",
            "nieprawidłowy NIP (10 cyfr z poprawną cyfrą kontrolną)",
        ),
        (
            payment_row("P-1", "100001", "10000125010001", "2025-01-10", "0.00"),
            "amount",
            "kwota wpłaty musi być większa od zera",
        ),
        (
            payment_row("P-1", "100001", "10000125010001", "2026-03-02", "1.00"),
            "paid_on",
            "data wpłaty z przyszłości",
        ),
        (
            payment_row("P-1", "100001", "10000125010001", "2025-01-01", "1.00"),
            "paid_on",
            "data wpłaty wcześniejsza niż data wystawienia faktury",
        ),
        (
            payment_row("P-1", "100001", "10000199999999", "2025-01-10", "1.00"),
            "invoice_number",
            "nieznana faktura 10000199999999",
        ),
        (
            {"type": "meter", "serial": "X"},
            "type",
            "nieznany typ rekordu (dozwolone: client, contract, invoice, payment)",
        ),
    ],
)
def test_bad_rows_are_named(row: dict[str, Any], field: str | None, reason: str | None) -> None:
    rows = [*BASE, INVOICE, row] if row.get("type") == "payment" else [*BASE, row]
    errors = _check(rows)
    if field is None:
        assert errors == []
    else:
        assert errors == [(len(rows), field, reason)]


def test_an_invoice_resent_with_other_content_is_refused() -> None:
    batch = feed.parse(jsonl([INVOICE]), "jsonl", max_rows=10, today=TODAY)
    known = Known(
        client_kinds={"100001": "household"},
        contracts={"U/100001/2023": ("100001",)},
        invoices={INVOICE["invoice_number"]: batch.invoices[0].content()},
    )
    assert _check([INVOICE], known) == []
    changed = invoice_row("10000125010001", "100001", "U/100001/2023", water_m3="11.000")
    assert _check([changed], known) == [
        (
            1,
            "invoice_number",
            (
                "faktura o tym numerze już istnieje z inną treścią (zmiana możliwa tylko fakturą "
                "korygującą)"
            ),
        )
    ]


def test_malformed_files_are_named() -> None:
    assert _lines(b'{"type": "client"\n', "jsonl") == [(1, "(wiersz)")]
    assert _lines(b"type,client_number,shoe\nclient,100001,4\n", "csv") == [(1, "shoe")]
    assert _lines(b"type,client_number\nclient\n", "csv") == [(2, "(wiersz)")]
    assert _lines(b"\xff\xfe", "jsonl") == [(1, "(wiersz)")]
    with pytest.raises(feed.BatchTooLarge):
        feed.parse(jsonl(BASE * 3), "jsonl", max_rows=5, today=TODAY)


def _lines(raw: bytes, fmt: str) -> list[tuple[int, str]]:
    return [(e.line, e.field) for e in feed.parse(raw, fmt, max_rows=10, today=TODAY).errors]


async def test_feed_endpoint_refuses_other_callers_and_formats(billing: Billing) -> None:
    body = jsonl(BASE)
    customer = await billing.client.post(
        "/operator/feed/batches",
        data=body,
        headers={**billing.issuer.customer("100001"), "Content-Type": "application/x-ndjson"},
    )
    assert customer.status == 403
    anonymous = await billing.client.post("/operator/feed/batches", data=body)
    assert anonymous.status == 401
    xml = await billing.client.post(
        "/operator/feed/batches",
        data=b"<a/>",
        headers={**billing.issuer.operator(roles=("billing",)), "Content-Type": "application/xml"},
    )
    assert xml.status == 415
    assert (await xml.json())["errors"][0]["field"] == "Content-Type"


async def test_cli_applies_a_file(database: str, tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_bytes(jsonl(_basic_rows()))
    env = {**os.environ, "EBOK_DATABASE_URL": database, "EBOK_LOG_LEVEL": "WARNING"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ebok_billing",
        "feed",
        str(path),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    report = json.loads(out.decode().strip().splitlines()[-1])
    assert report["status"] == "applied" and report["summary"]["invoices"]["created"] == 2
    assert (await _counts(database))["payments"] == 1


async def test_batches_about_other_clients_do_not_wait_for_each_other(
    billing: Billing, database: str
) -> None:
    """A batch holds its clients' lock buckets only: another client's batch goes ahead at
    once, one about the same client waits for it (and then applies)."""
    from ebok_billing.feed.repository import FEED_BUCKETS, FEED_LOCK, lock_feed

    held = await asyncpg.connect(database)
    try:
        tx = held.transaction()
        await tx.start()
        await lock_feed(held, ["100001"], [])  # as a batch about 100001 would, still running
        other = await billing.feed([client_row("100002"), contract_row("U/100002/2023", "100002")])
        assert other["status"] == "applied"  # not held up
        same = asyncio.ensure_future(
            billing.feed([client_row(str(100001 + FEED_BUCKETS))])  # the same bucket
        )
        while not await held.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND classid = $1 AND objid = $2",
            FEED_LOCK,
            100001 % FEED_BUCKETS,
        ):
            assert not same.done(), await same
            await asyncio.sleep(0.02)
        await tx.commit()
        assert (await same)["status"] == "applied"
    finally:
        await held.close()
