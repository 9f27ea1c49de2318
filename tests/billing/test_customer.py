"""Customer functions (III.b, III.c, contracts) through the real app, with two clients."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from ebok_billing.common.money import describe_balance, format_pln
from ebok_billing.documents import rendering as documents
from ebok_billing.payments.transfer_qr import parse
from ebok_shared.clock import LOCAL_TZ, clock
from ebok_shared.http import batch, params

from tests.billing.helpers import (
    Billing,
    client_row,
    contract_row,
    invoice_row,
    payment_row,
)
from tests.support.qr import pdf_codes

A, B = "100001", "100002"  # a household and a business
TODAY = dt.datetime(2026, 3, 20, 12, 0, tzinfo=LOCAL_TZ)

I1 = invoice_row(
    "10000125110001", A, "U/100001/2023", issue_date="2025-11-06", water_m3="80.000"
)  # due 2025-11-20; 1,000.00 of it left unpaid
I2 = invoice_row("10000126010002", A, "U/100001/2023", issue_date="2026-01-05")  # paid late
I3 = invoice_row("10000126030003", A, "U/100001/2023", issue_date="2026-03-10")  # not yet due
KSEF = ("5250000009-20260305-0100001AF629-AF", "UtQp9Gpc51y-u3xApZjIjgkpZ01js-J8KflSPW8WzIE")
IB = invoice_row("10000226030001", B, "U/100002/2024", issue_date="2026-03-05", ksef=KSEF)
FIRST_PART = Decimal(I1["gross"]) - Decimal("1000.00")
PAYMENTS = [
    payment_row("P-A1", A, I1["invoice_number"], "2025-11-10", f"{FIRST_PART}"),
    payment_row("P-A2", A, I2["invoice_number"], "2026-02-10", I2["gross"]),
    payment_row("P-B1", B, IB["invoice_number"], "2026-03-06", IB["gross"]),
]


@pytest.fixture
async def loaded(billing: Billing) -> Billing:
    clock.freeze(TODAY)
    await billing.feed(
        [
            client_row(A, email="jan@example.pl"),
            client_row(B, kind="business"),
            contract_row("U/100001/2023", A, meters=["WM-100001-1", "WG-100001-1"]),
            contract_row("U/100002/2024", B, concluded_on="2024-02-01"),
            I1,
            I2,
            I3,
            IB,
            *PAYMENTS,
        ]
    )
    return billing


async def test_invoice_list_filters_and_pages(loaded: Billing) -> None:
    listed = await loaded.get("/me/invoices", A)
    assert [i["invoice_number"] for i in listed["items"]] == [
        I3["invoice_number"],
        I2["invoice_number"],
        I1["invoice_number"],
    ]
    assert {i["invoice_number"]: i["status"] for i in listed["items"]} == {
        I1["invoice_number"]: "overdue",
        I2["invoice_number"]: "paid",
        I3["invoice_number"]: "unpaid",
    }
    assert listed["items"][2]["outstanding"] == "1000.00"
    assert listed["items"][2]["status_label"] == "po terminie płatności"

    overdue = await loaded.get("/me/invoices?status=overdue", A)
    assert [i["invoice_number"] for i in overdue["items"]] == [I1["invoice_number"]]
    period = await loaded.get("/me/invoices?from=2026-01-01&to=2026-01-31", A)
    assert [i["invoice_number"] for i in period["items"]] == [I2["invoice_number"]]
    paged = await loaded.get("/me/invoices?page=2&page_size=2", A)
    assert paged["total"] == 3 and paged["pages"] == 2
    assert [i["invoice_number"] for i in paged["items"]] == [I1["invoice_number"]]
    # Past the last page, the total is still counted with the filters asked (each set of
    # filters is a statement of its own: ledger.repository._page_where).
    for query, total in [
        ("status=overdue&page=2&page_size=1", 1),
        ("from=2026-01-01&to=2026-01-31&page=3&page_size=1", 1),
        ("from=2026-01-01&status=unpaid&page=2&page_size=1", 1),
        ("to=2025-12-31&page=2&page_size=5", 1),
    ]:
        past = await loaded.get(f"/me/invoices?{query}", A)
        assert past["items"] == [] and past["total"] == total, query

    for query, field, status in [
        ("from=2026-13-01", "from", 400),
        ("status=lost", "status", 400),
        ("page_size=101", "page_size", 400),
        ("page=0", "page", 400),
        ("from=2026-02-01&to=2026-01-01", "to", 422),
    ]:
        resp = await loaded.client.get(f"/me/invoices?{query}", headers=loaded.issuer.customer(A))
        assert resp.status == status, query
        assert resp.content_type == "application/problem+json"
        assert (await resp.json())["errors"][0]["field"] == field


async def test_a_listed_invoice_is_the_invoice_its_detail_shows(loaded: Billing) -> None:
    """The list reads its amounts as text from SQL (``LIST_COLUMNS``), the detail decodes
    and formats them (``views.invoice_item``): every field the list shows is the detail's,
    for an overdue, a paid, a part-paid, a not-yet-due, a corrected invoice and its
    correction (negative amounts, nothing outstanding of its own)."""
    part_paid = invoice_row("10000126030004", A, "U/100001/2023", issue_date="2026-03-12")
    correction = invoice_row(
        "10000126030005",
        A,
        "U/100001/2023",
        issue_date="2026-03-15",
        water_m3="-2.000",
        subscription="0.00",
        corrects=I3["invoice_number"],
    )
    await loaded.feed(
        [
            part_paid,
            correction,
            payment_row("P-A3", A, part_paid["invoice_number"], "2026-03-13", "0.10"),
        ]
    )
    for client in (A, B):
        listed = (await loaded.get("/me/invoices", client))["items"]
        assert listed
        for item in listed:
            detail = await loaded.get(f"/me/invoices/{item['invoice_number']}", client)
            assert item == {key: detail[key] for key in item}
    statuses = {i["invoice_number"]: i for i in (await loaded.get("/me/invoices", A))["items"]}
    assert statuses[I3["invoice_number"]]["status"] == "corrected"
    assert statuses[I3["invoice_number"]]["outstanding"] == "0.00"
    assert statuses[correction["invoice_number"]]["gross"].startswith("-")
    assert statuses[part_paid["invoice_number"]]["amount_paid"] == "0.10"
    assert statuses[part_paid["invoice_number"]]["status"] == "partly_paid"


async def test_invoices_the_gateway_names_hidden_are_left_out_of_every_page(
    loaded: Billing,
) -> None:
    """Issue 14: a hidden invoice is left out in billing's SQL, so ``total``, ``pages`` and
    the pages after it are right, not only the page the hidden invoice would stand on."""

    async def page(query: str, hidden: str) -> Any:
        resp = await loaded.client.get(
            f"/me/invoices?{query}",
            headers={**loaded.issuer.customer(A), params.HIDDEN_ITEMS_HEADER: hidden},
        )
        assert resp.status == 200, await resp.text()
        return await resp.json()

    # I3 stands on page 1; page 2 would otherwise repeat I2 or count I3 in its total.
    second = await page("page=2&page_size=1", f"{I3['invoice_number']},{IB['invoice_number']}")
    assert [i["invoice_number"] for i in second["items"]] == [I1["invoice_number"]]
    assert second["total"] == 2 and second["pages"] == 2
    past = await page("page=3&page_size=1", I3["invoice_number"])
    assert past["items"] == [] and past["total"] == 2
    filtered = await page("status=overdue", I1["invoice_number"])
    assert filtered["items"] == [] and filtered["total"] == 0
    everything = await page("", " , ")
    assert everything["total"] == 3
    too_many = ",".join(str(n) for n in range(params.MAX_HIDDEN_ITEMS + 1))
    resp = await loaded.client.get(
        "/me/invoices",
        headers={**loaded.issuer.customer(A), params.HIDDEN_ITEMS_HEADER: too_many},
    )
    assert resp.status == 400
    assert (await resp.json())["errors"][0]["field"] == params.HIDDEN_ITEMS_HEADER


async def test_invoice_detail_and_its_printable_copy(loaded: Billing) -> None:
    detail = await loaded.get(f"/me/invoices/{I2['invoice_number']}", A)
    assert sum(Decimal(line["net"]) for line in detail["lines"]) == Decimal(detail["net"])
    assert detail["payments"] == [{"paid_on": "2026-02-10", "amount": I2["gross"]}]
    assert detail["bank_account"].replace(" ", "").endswith(A)
    assert detail["interest_notes"][0]["reason"] == "late-payment"

    pdf = await loaded.get(detail["pdf"], A)
    assert pdf.startswith(b"%PDF-")
    assert b"/FontFile2" in pdf and b"+DejaVuSansBold" in pdf  # fonts embedded
    documents.clear_cache()
    assert await loaded.get(detail["pdf"], A) == pdf  # rendered again: the same bytes

    ksef = await loaded.get(f"/me/invoices/{IB['invoice_number']}", B)
    assert ksef["ksef_number"] == KSEF[0]
    ksef_pdf = await loaded.get(ksef["pdf"], B)
    # Every copy carries the transfer QR code; a KSeF invoice also its verification link.
    ((transfer,),) = pdf_codes(pdf)
    assert parse(transfer) == {
        "nip": "5250000009",
        "country": "PL",
        "account": detail["bank_account"].replace(" ", ""),
        "amount": f"{round(Decimal(I2['gross']) * 100):06d}",
        "recipient": "MPWiK Warszawa",
        "title": f"Faktura {I2['invoice_number']}",
        "direct_debit_id": "",
        "invoobill_id": "",
        "reserved": "",
    }
    ((first, second),) = pdf_codes(ksef_pdf)
    codes = {first, second}
    ksef_url = next(c for c in codes if c.startswith("https://"))
    assert ksef_url.endswith(KSEF[1])
    fields = parse((codes - {ksef_url}).pop())
    assert fields["account"] == ksef["bank_account"].replace(" ", "")
    assert fields["account"].endswith(B) and fields["title"] == f"Faktura {IB['invoice_number']}"


async def test_balance_overdue_interest_and_notes(loaded: Billing) -> None:
    balance = await loaded.get("/me/balance", A)
    notes = await loaded.get("/me/interest-notes", A)
    (note,) = notes["items"]
    invoiced = sum(Decimal(i["gross"]) for i in (I1, I2, I3))
    paid = sum(Decimal(p["amount"]) for p in PAYMENTS[:2])
    expected = invoiced + Decimal(note["amount"]) - paid
    assert balance["balance"] == {
        "position": "due",
        "amount": f"{expected}",
        "text": describe_balance(expected),
    }
    assert balance["balance"]["text"].startswith("do zapłaty ")

    # The reference's worked example: 1,000.00 due 2025-11-20, paid 2026-03-20.
    (overdue,) = balance["overdue"]["invoices"]
    assert overdue["invoice_number"] == I1["invoice_number"]
    assert overdue["outstanding"] == "1000.00" and overdue["days_late"] == 120
    interest = overdue["interest"]
    assert [(p["days"], p["annual_rate_percent"]) for p in interest["periods"]] == [
        (13, "9.75"),
        (91, "9.50"),
        (16, "9.25"),
    ]
    assert sum(Decimal(p["amount"]) for p in interest["periods"]) == Decimal("31.21")
    assert interest["accrued_to_today"] == "31.21"
    assert interest["to_pay_if_paid_today"] == "1031.21"
    assert balance["overdue"]["amount"] == "1000.00"
    # The headline with the interest still accruing on I1, and its parts.
    to_pay = balance["to_pay_today"]
    assert to_pay["balance"] == balance["balance"]
    assert to_pay["accruing_interest"] == "31.21" and to_pay["recovery_compensation"] == "0.00"
    assert to_pay["available"] is True and to_pay["amount"] == f"{expected + Decimal('31.21')}"
    assert to_pay["text"].startswith(
        f"do zapłaty dziś z odsetkami: {format_pln(expected + Decimal('31.21'))} "
        f"(do zapłaty {format_pln(expected)}, odsetki naliczone do dziś 31,21\u00a0zł)"
    )

    # The late payment of I2 got its note: 22 days at 9.50 %.
    assert note["invoice_number"] == I2["invoice_number"]
    assert note["period"] == {"from": "2026-01-20", "to": "2026-02-10"} and note["days"] == 22
    assert note["rates"] == [
        {"from": "2026-01-20", "to": "2026-02-10", "annual_rate_percent": "9.50"}
    ]
    assert note["amount"] == f"{Decimal(I2['gross']) * Decimal('9.5') * 22 / 36500:.2f}"
    issued = await loaded.tap.until("billing.interest_note.issued")
    assert issued.payload["payment_id"] == "P-A2"

    settled = await loaded.get("/me/balance", B)
    assert settled["balance"]["position"] == "settled"
    assert settled["to_pay_today"]["amount"] == "0.00"
    assert settled["to_pay_today"]["text"] == "do zapłaty dziś z odsetkami: 0,00\u00a0zł"
    assert settled["overdue"]["invoices"] == []


async def test_overpayment_is_said_as_such(loaded: Billing) -> None:
    await loaded.feed([payment_row("P-B2", B, IB["invoice_number"], "2026-03-07", "10.00")])
    balance = await loaded.get("/me/balance", B)
    assert balance["balance"] == {
        "position": "overpaid",
        "amount": "10.00",
        "text": describe_balance(Decimal("-10.00")),
    }
    assert balance["balance"]["text"].startswith("nadpłata ")


async def test_contracts_and_their_document(loaded: Billing) -> None:
    listed = await loaded.get("/me/contracts", A)
    (contract,) = listed["items"]
    assert contract == {
        "contract_number": "U/100001/2023",
        "concluded_on": "2023-01-10",
        "status": "active",
        "status_label": "obowiązująca",
        "terminated_on": None,
        "meter_serials": ["WM-100001-1", "WG-100001-1"],
        "supply_address": {"street": "ul. Wodna 1", "postal_code": "00-950", "city": "Warszawa"},
        "tariff_group": "G1",
        "document": "/me/contracts/U%2F100001%2F2023/document",
    }
    assert await loaded.get("/me/contracts/U/100001/2023", A) == contract
    document = await loaded.get(contract["document"], A)
    assert document.startswith(b"%PDF-")
    assert await loaded.get(contract["document"], A) == document


async def test_a_customer_sees_only_their_own_client(loaded: Billing) -> None:
    """Every customer route, asked by B about A's things: 404 (never 403), or B's own."""
    for path in (
        f"/me/invoices/{I1['invoice_number']}",
        f"/me/invoices/{I1['invoice_number']}/pdf",
        "/me/contracts/U/100001/2023",
        "/me/contracts/U/100001/2023/document",
    ):
        resp = await loaded.client.get(path, headers=loaded.issuer.customer(B))
        assert resp.status == 404, path
        assert (await resp.json())["code"] == "not-found"
    own = {i["invoice_number"] for i in (await loaded.get("/me/invoices", B))["items"]}
    assert own == {IB["invoice_number"]}
    assert (await loaded.get("/me/interest-notes", B))["items"] == []
    assert [c["contract_number"] for c in (await loaded.get("/me/contracts", B))["items"]] == [
        "U/100002/2024"
    ]
    assert (await loaded.get("/me/balance", B))["client_number"] == B
    assert (await loaded.get("/me/e-invoice", B))["applies"] is False
    # a client billing does not know sees nothing of anybody's
    assert (await loaded.get("/me/invoices", "999999"))["items"] == []
    await loaded.get("/me/balance", "999999", expect=404)
    # no token, or not a customer
    assert (await loaded.client.get("/me/invoices")).status == 401
    assert (
        await loaded.client.get("/me/invoices", headers=loaded.issuer.operator(roles=("billing",)))
    ).status == 403
    bad = await loaded.client.get("/me/invoices/12ab", headers=loaded.issuer.customer(A))
    assert bad.status == 400 and (await bad.json())["errors"][0]["field"] == "number"


async def _confirm(billing: Billing, token: str, expect: int = 200) -> dict[str, Any]:
    resp = await billing.client.post("/e-invoice/confirmations", json={"token": token})
    assert resp.status == expect, await resp.text()
    # resp.json() is Any: a JSON object
    return await resp.json()  # type: ignore[no-any-return]


async def test_e_invoice_accept_change_withdraw(loaded: Billing) -> None:
    headers = loaded.issuer.customer(A)
    # One statement reads the page (repository.e_invoice.state_rows): a client with no
    # consent, no request and no history is still one row.
    first = await loaded.get("/me/e-invoice", A)
    assert (first["status"], first["email"], first["pending"], first["history"]) == (
        "none",
        None,
        None,
        [],
    )
    asked = await loaded.client.put(
        "/me/e-invoice", json={"email": "jan@example.pl"}, headers=headers
    )
    assert asked.status == 202
    state = await asked.json()
    assert state["status"] == "none" and state["pending"]["purpose"] == "accept"
    request = await loaded.tap.until("billing.e_invoice.confirmation_requested")
    assert request.payload["email"] == "jan@example.pl"
    confirmed = await _confirm(loaded, request.payload["token"])
    assert confirmed["status"] == "accepted"
    changed = await loaded.tap.until("billing.e_invoice.consent_changed")
    assert changed.payload["status"] == "accepted"
    assert changed.payload["source"] == "confirmation-link"
    await _confirm(loaded, request.payload["token"], expect=404)  # single use

    # While accepted, a new invoice goes by e-mail to the confirmed address.
    i4 = invoice_row("10000126030004", A, "U/100001/2023", issue_date="2026-03-15")
    await loaded.feed([i4])
    issued = await loaded.tap.until("billing.invoice.issued", invoice_number=i4["invoice_number"])
    assert issued.payload["delivery"] == "e-mail"
    assert issued.payload["e_invoice_email"] == "jan@example.pl"

    # A change is confirmed again; until then the old address stays in force.
    await loaded.client.put("/me/e-invoice", json={"email": "jan.nowy@example.pl"}, headers=headers)
    state = await loaded.get("/me/e-invoice", A)
    assert state["email"] == "jan@example.pl" and state["pending"]["purpose"] == "change"
    request = await loaded.tap.until("billing.e_invoice.confirmation_requested")
    await _confirm(loaded, request.payload["token"])
    assert (await loaded.get("/me/e-invoice", A))["email"] == "jan.nowy@example.pl"

    withdrawn = await loaded.client.delete("/me/e-invoice", headers=headers)
    assert withdrawn.status == 200
    assert (
        await loaded.tap.until("billing.e_invoice.consent_changed", status="withdrawn")
    ).payload["email"] is None
    i5 = invoice_row("10000126030005", A, "U/100001/2023", issue_date="2026-03-16")
    await loaded.feed([i5])
    issued = await loaded.tap.until("billing.invoice.issued", invoice_number=i5["invoice_number"])
    assert issued.payload["delivery"] == "paper"

    history = (await loaded.get("/me/e-invoice", A))["history"]
    assert [(h["action"], h["source"]) for h in reversed(history)] == [
        ("requested", "customer"),
        ("confirmed", "confirmation-link"),
        ("requested", "customer"),
        ("confirmed", "confirmation-link"),
        ("withdrawn", "customer"),
    ]
    # The same history as the export reads it (its own statements), newest first.
    assert history == (await loaded.get("/me/export", A))["e_invoice_history"]
    again = await loaded.client.delete("/me/e-invoice", headers=headers)
    assert again.status == 409


async def test_e_invoice_refusals(loaded: Billing) -> None:
    business = await loaded.client.put(
        "/me/e-invoice", json={"email": "firma@example.pl"}, headers=loaded.issuer.customer(B)
    )
    assert business.status == 409
    problem = await business.json()
    assert problem["code"] == "e-invoice-ksef" and "KSeF" in problem["detail"]
    bad = await loaded.client.put(
        "/me/e-invoice", json={"email": "nie-adres"}, headers=loaded.issuer.customer(A)
    )
    assert bad.status == 422 and (await bad.json())["errors"][0]["field"] == "email"
    extra = await loaded.client.put(
        "/me/e-invoice", json={"email": "a@example.pl", "x": 1}, headers=loaded.issuer.customer(A)
    )
    assert extra.status == 422
    await _confirm(loaded, "x" * 43, expect=404)


async def test_export_holds_everything_billing_has_on_the_client_and_nothing_else(
    loaded: Billing,
) -> None:
    export = await loaded.get("/me/export", A)
    assert export["client"]["client_number"] == A
    assert export["client"]["email"] == "jan@example.pl"
    assert {i["invoice_number"] for i in export["invoices"]} == {
        I1["invoice_number"],
        I2["invoice_number"],
        I3["invoice_number"],
    }
    assert [c["contract_number"] for c in export["contracts"]] == ["U/100001/2023"]
    assert export["interest_notes"], "the late payment of I2 gave an interest note"
    # Issue 14.7: the payments with what they paid, each invoice's lines, each note's working.
    assert [p["payment_id"] for p in export["payments"]] == ["P-A1", "P-A2"]
    paid_i2 = export["payments"][1]
    assert paid_i2["amount"] == I2["gross"] and paid_i2["paid_on"] == "2026-02-10"
    assert paid_i2["allocated_to"] == [
        {"invoice_number": I2["invoice_number"], "note_number": None, "amount": I2["gross"]}
    ]
    for invoice in export["invoices"]:
        lines = invoice["lines"]
        assert [line["kind"] for line in lines] == ["water", "sewage", "subscription"]
        assert sum(Decimal(line["net"]) for line in lines) == Decimal(invoice["net"])
    (note,) = export["interest_notes"]
    assert note["periods"] and note["periods"][0]["annual_rate_percent"] == "9.50"
    assert note["amount_text"].startswith("odsetki ") and note["status"] in ("unpaid", "overdue")
    other = await loaded.get("/me/export", B)
    assert {i["invoice_number"] for i in other["invoices"]} == {IB["invoice_number"]}
    await loaded.get("/me/export", "999999", expect=404)


async def test_a_notes_rates_are_listed_in_period_order(loaded: Billing) -> None:
    """1,000.00 due 2025-11-20 paid 2026-03-20: three periods whose rates fall (9.75, 9.50,
    9.25); the note lists them as the periods come, each with its days, never sorted."""
    await loaded.feed([payment_row("P-A3", A, I1["invoice_number"], "2026-03-20", "1000.00")])
    await loaded.tap.until("billing.interest_note.issued", payment_id="P-A3")
    notes = await loaded.get("/me/interest-notes", A)
    (note,) = [n for n in notes["items"] if n["invoice_number"] == I1["invoice_number"]]
    assert note["rates"] == [
        {"from": "2025-11-21", "to": "2025-12-03", "annual_rate_percent": "9.75"},
        {"from": "2025-12-04", "to": "2026-03-04", "annual_rate_percent": "9.50"},
        {"from": "2026-03-05", "to": "2026-03-20", "annual_rate_percent": "9.25"},
    ]


async def test_a_batch_answers_each_part_as_if_asked_on_its_own(loaded: Billing) -> None:
    """The gateway's dashboard asks billing's parts in one call (ebok_shared.http.batch):
    each part is what the route answers alone, hidden items and errors included, under the
    batch's one token; a write, a route of another role or the batch itself never run."""
    hidden = I3["invoice_number"]
    parts = [
        ("/me/balance", ""),
        ("/me/invoices?page_size=3", hidden),
        ("/me/contracts", ""),
        ("/me/e-invoice", ""),
        (f"/me/invoices/{IB['invoice_number']}", ""),  # the other client's: 404
        ("/operator/feed/batches", ""),  # a customer's token: 403
        ("/batch?part=/me/balance&hidden=", ""),  # no batch within a batch
        ("//example.com/me/balance", ""),
    ]
    query = "&".join(f"part={quote(p, safe='')}" for p, _ in parts) + "".join(
        f"&hidden={quote(h, safe='')}" for _, h in parts
    )
    answered = await loaded.get(f"/batch?{query}", A)
    statuses = [part["status"] for part in answered["parts"]]
    assert statuses == [200, 200, 200, 200, 404, 403, 404, 404]
    assert answered["parts"][0]["body"] == await loaded.get("/me/balance", A)
    resp = await loaded.client.get(
        "/me/invoices?page_size=3",
        headers={**loaded.issuer.customer(A), params.HIDDEN_ITEMS_HEADER: hidden},
    )
    assert answered["parts"][1]["body"] == await resp.json()
    assert hidden not in {i["invoice_number"] for i in answered["parts"][1]["body"]["items"]}
    assert answered["parts"][2]["body"] == await loaded.get("/me/contracts", A)
    assert answered["parts"][3]["body"] == await loaded.get("/me/e-invoice", A)
    assert answered["parts"][4]["body"]["status"] == 404
    assert answered["parts"][5]["body"]["code"] == "forbidden"

    # The batch's own token is checked once for all: none, none of the parts run.
    resp = await loaded.client.get(f"/batch?{query}")
    assert resp.status == 401
    # One hidden list per part, at most MAX_PARTS parts.
    resp = await loaded.client.get("/batch?part=/me/balance", headers=loaded.issuer.customer(A))
    assert resp.status == 400
    many = "&".join(["part=/me/balance&hidden="] * (batch.MAX_PARTS + 1))
    resp = await loaded.client.get(f"/batch?{many}", headers=loaded.issuer.customer(A))
    assert resp.status == 400


async def test_a_restricted_token_reads_in_a_batch_only_what_its_parts_allow(
    loaded: Billing,
) -> None:
    restricted = loaded.issuer.customer(A, restrictions=["regulations"])
    resp = await loaded.client.get("/batch?part=/me/balance&hidden=", headers=restricted)
    assert resp.status == 200
    (part,) = (await resp.json())["parts"]
    assert part["status"] == 403
    assert part["body"]["code"] == "regulations-acceptance-required"
