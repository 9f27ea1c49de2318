"""A bank transfer matched to what it pays by its title, through the real feed (CSV and JSON
lines) and database: the QR code's title formats ("Faktura <number>", invoice and note
numbers), any title naming them, and what matches nothing listed for operators. Matching
by an online order's id in the title is in test_payment_orders (it needs the provider)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from ebok_billing.feed import domain as feed

from tests.billing.helpers import Billing, invoice_row
from tests.billing.test_ledger import IB, H, _at, _base, unnamed_payment

I1 = invoice_row("10000125110001", H, "U/100001/2023", issue_date="2025-11-06", water_m3="80")
I2 = invoice_row("10000126010002", H, "U/100001/2023", issue_date="2026-01-05")  # due 01-19
I3 = invoice_row("10000126030003", H, "U/100001/2023", issue_date="2026-03-10")  # not due yet


def titled(pid: str, client: str, amount: str, title: str) -> dict[str, Any]:
    return {**unnamed_payment(pid, client, "2026-03-20", amount), "title": title}


def old_csv(rows: list[dict[str, Any]]) -> bytes:
    """A batch as the back office wrote them before titles: no ``title`` column."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[c for c in feed.ALL_COLUMNS if c != "title"])
    writer.writeheader()
    for row in rows:
        meters = row.get("meter_serials")
        writer.writerow({**row, "meter_serials": "|".join(meters)} if meters else row)
    return out.getvalue().encode()


async def _posted(billing: Billing, count: int) -> dict[str, Any]:
    posted = {}
    for _ in range(count):
        event = await billing.tap.until("billing.payment.posted")
        posted[event.payload["payment_id"]] = event.payload
    return posted


async def test_a_transfer_pays_what_its_title_names(billing: Billing) -> None:
    _at("2026-03-20")
    # Feed files without the title column are read as before.
    before = [*_base(), I1, I2, I3, IB, unnamed_payment("OLD-1", H, "2025-11-10", "3.00")]
    result = await billing.feed(old_csv(before), fmt="csv")
    assert result["summary"]["payments"]["created"] == 1, result
    await _posted(billing, 1)
    path = f"/operator/invoices/{I1['invoice_number']}/interest-notes"
    note = await (
        await billing.client.post(path, headers=billing.issuer.operator(roles=("billing",)))
    ).json()
    n1 = note["note_number"]
    i1, i2, i3 = (i["invoice_number"] for i in (I1, I2, I3))

    await billing.feed(
        [
            titled("T-1", H, "149.69", f"Faktura {i3}"),  # the invoice copy's QR title
            titled("T-2", H, "10.00", f"nota {n1.lower()}"),  # a note, typed by hand
            titled("T-3", H, "200.00", f"{i2} {i1} +1"),  # the balance's QR title
            titled("T-4", H, "50.00", "za wodę, marzec"),  # names nothing
            titled("T-5", H, "20.00", f"Faktura {IB['invoice_number']}"),  # not H's invoice
            unnamed_payment("T-6", H, "2026-03-20", "1.00"),  # no title: as before
        ]
    )
    posted = await _posted(billing, 6)

    def went(pid: str) -> list[tuple[str, str | None, str]]:
        return [
            (a["invoice_number"], a["note_number"], a["amount"]) for a in posted[pid]["allocations"]
        ]

    # By the title, not by art. 451 § 3 (which takes the oldest due debt, I1, first).
    assert went("T-1") == [(i3, None, "149.69")]
    assert went("T-2") == [(i1, n1, "10.00")]
    # In the order named: I2 whole, then I1 — its note's rest before its principal.
    rest = Decimal(note["amount"]) - Decimal("10.00")
    principal = Decimal("200.00") - Decimal("149.69") - rest
    assert went("T-3") == [(i2, None, "149.69"), (i1, n1, f"{rest}"), (i1, None, f"{principal}")]
    # Nothing matched: the oldest due debt, and the operators' unmatched list.
    assert went("T-4") == [(i1, None, "50.00")]
    assert went("T-5") == [(i1, None, "20.00")]
    assert went("T-6") == [(i1, None, "1.00")]

    resp = await billing.client.get(
        "/operator/payment-orders/unmatched", headers=billing.issuer.operator(roles=("billing",))
    )
    listed = await resp.json()
    assert [(p["payment_id"], p["title"]) for p in listed["title_unmatched"]] == [
        ("T-4", "za wodę, marzec"),
        ("T-5", f"Faktura {IB['invoice_number']}"),
    ]
    assert listed["posted_without_order"] == [] and listed["paid_not_posted"] == []

    # The same rows again change nothing; the same id with another title is refused.
    again = await billing.feed([titled("T-4", H, "50.00", "za wodę, marzec")])
    assert again["summary"]["payments"] == {"created": 0, "updated": 0, "unchanged": 1}
    other = await billing.feed([titled("T-4", H, "50.00", f"Faktura {i3}")], expect=422)
    assert other["errors"][0]["field"] == "payment_id", other

    # A title is one line of at most 140 characters, no control characters.
    for title in ("x" * 141, "zapłata\x00"):
        refused = await billing.feed([titled("T-9", H, "1.00", title)], expect=422)
        assert refused["errors"][0]["field"] == "title", refused
