"""Issue 4's gaps, through the real app and database: the recovery compensation with its
EUR rate table, payments allocated by art. 451 KC, the buyer kept on each invoice.

Hand-computed figures (packaged NBP table; rates in percent):
* commercial rate in 2025 H1: reference on 1 Jan 2025 (5.75) + 10 = 15.75;
* household rates: 9.75 from 2025-11-06, 9.50 from 2025-12-04, 9.25 from 2026-03-05;
* invoice_row's defaults give gross 149.69 (54.80 + 71.30 + 12.50 = 138.60 net, VAT 11.09);
  with 80 m³, gross 1103.00 (438.40 + 570.40 + 12.50 = 1021.30 net, VAT 81.70).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from importlib import resources
from typing import Any

import asyncpg
import pytest
from ebok_billing.documents import rendering as documents
from ebok_billing.interest.compensation import rate_date_for
from ebok_billing.ledger import repository as ledger_repository
from ebok_shared.clock import LOCAL_TZ, clock

from tests.billing.helpers import (
    Billing,
    client_row,
    contract_row,
    invoice_row,
    payment_row,
)

H, B = "100001", "100002"  # a household and a business
IB = invoice_row("10000225010001", B, "U/100002/2024", issue_date="2025-01-06")  # due 01-20


def _at(day: str) -> None:
    clock.freeze(dt.datetime.fromisoformat(f"{day}T12:00:00").replace(tzinfo=LOCAL_TZ))


def _base() -> list[dict[str, Any]]:
    return [
        client_row(H),
        client_row(B, kind="business"),
        contract_row("U/100001/2023", H),
        contract_row("U/100002/2024", B, concluded_on="2024-02-01"),
    ]


# The statement the balance read its facts with before issue 17 (arrays of records, the
# principal joined the plain way; a payment's invoices in the order its grouping sorted them,
# spelled out): the oracle the one-document statement must agree with.
_FACTS_BEFORE = """SELECT c.kind,
    array(SELECT (invoice_number, gross, due_date, corrects) FROM invoices
           WHERE client_number = $1) AS invoices,
    array(SELECT (invoice_number, paid_on, amount) FROM (
           SELECT a.payment_id, a.invoice_number, p.paid_on, sum(a.amount) AS amount
             FROM payment_allocations a JOIN payments p USING (payment_id)
            WHERE a.note_number IS NULL AND p.client_number = $1
           GROUP BY a.payment_id, a.invoice_number, p.paid_on, p.posted_at
           ORDER BY p.paid_on, p.posted_at, a.payment_id, a.invoice_number) principal)
      AS principal,
    array(SELECT (note_number, invoice_number, issue_date, payable_by, total, amount_paid,
                  compensation_for, compensation_pln, reason, interest_to)
            FROM interest_notes WHERE client_number = $1
           ORDER BY issue_date, note_number) AS notes,
    (SELECT coalesce(sum(amount), 0) FROM payments WHERE client_number = $1) AS paid,
    array(SELECT (effective_from, reference_rate_percent) FROM reference_rates
           ORDER BY effective_from) AS rates,
    array(SELECT (rate_date, eur_pln, table_number) FROM eur_rates ORDER BY rate_date)
      AS eur_rates
   FROM clients c WHERE c.client_number = $1"""


async def assert_facts_as_before(billing: Billing, *clients: str) -> None:
    """The balance's facts (``balance_facts``) are what the statement before issue 17 read:
    the same values, types and scales (Decimal("1.20") is not Decimal("1.2") on the wire)
    and the same order, for each of ``clients`` and for one that does not exist."""
    async with asyncpg.create_pool(billing.settings.database_url, min_size=1) as pool:
        async with pool.acquire() as conn:
            for client in clients:
                facts = await ledger_repository.balance_facts(conn, client)
                before = await conn.fetchrow(_FACTS_BEFORE, client)
                assert facts is not None and before is not None
                assert facts.kind == before["kind"]
                assert facts.paid == before["paid"] and str(facts.paid) == str(before["paid"])
                for name in ("invoices", "principal", "notes", "rates", "eur_rates"):
                    ours = getattr(facts, name)
                    theirs = [tuple(r) for r in before[name]]
                    assert ours == theirs, name
                    # equal Decimals may differ in scale; their text may not
                    assert [tuple(map(repr, r)) for r in ours] == [
                        tuple(map(repr, r)) for r in theirs
                    ], name
                assert facts.invoices or facts.principal or facts.notes
            assert await ledger_repository.balance_facts(conn, "999999") is None


def note_payment(pid: str, client: str, note: str, paid_on: str, amount: str) -> dict[str, Any]:
    row = payment_row(pid, client, "x", paid_on, amount)
    del row["invoice_number"]
    return {**row, "note_number": note}


def unnamed_payment(pid: str, client: str, paid_on: str, amount: str) -> dict[str, Any]:
    row = payment_row(pid, client, "x", paid_on, amount)
    del row["invoice_number"]
    return row


# -- the recovery compensation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("due", "rate_day"),
    [
        ("2025-01-20", "2024-12-31"),  # a Tuesday
        ("2025-09-05", "2025-08-29"),  # 30 and 31 August 2025 are a weekend
        ("2018-06-15", "2018-05-30"),  # 31 May 2018 was Corpus Christi
        ("1997-04-15", "1997-03-28"),  # 31 March 1997 was Easter Monday
        ("2026-01-05", "2025-12-31"),
    ],
)
def test_the_rate_is_of_the_last_working_day_of_the_month_before_the_due_month(
    due: str, rate_day: str
) -> None:
    assert rate_date_for(dt.date.fromisoformat(due)) == dt.date.fromisoformat(rate_day)


async def test_a_late_business_payment_charges_the_compensation_once(billing: Billing) -> None:
    _at("2025-02-20")
    ih = invoice_row("10000125010001", H, "U/100001/2023", issue_date="2025-01-06")
    await billing.feed(
        [
            *_base(),
            IB,
            ih,
            payment_row("P-B1", B, IB["invoice_number"], "2025-02-19", "100.00"),
            payment_row("P-H1", H, ih["invoice_number"], "2025-02-19", ih["gross"]),
        ]
    )
    # 100.00 × 15.75 % × 30 / 365 = 1.2945… → 1.29; 40 EUR × 4.2730 (NBP, 31.12.2024) = 170.92
    issued: dict[str, Any] = {}
    while len(issued) < 2:
        event = await billing.tap.until("billing.interest_note.issued")
        issued[event.payload["payment_id"]] = event
    note = issued["P-B1"]
    assert note.payload["amount"] == "1.29"
    assert note.payload["recovery_compensation"] == {
        "eur": "40.00",
        "eur_pln_rate": "4.2730",
        "rate_date": "2024-12-31",
        "rate_table": "252/A/NBP/2024",
        "pln": "170.92",
    }
    assert note.payload["total"] == "172.21" and note.payload["payable_by"] == "2025-03-06"
    assert issued["P-H1"].payload["recovery_compensation"] is None  # never from a household

    listed = await billing.get("/me/interest-notes", B)
    (item,) = listed["items"]
    assert item["recovery_compensation"]["pln"] == "170.92"
    assert "4,2730" in item["recovery_compensation"]["text"]
    assert "31.12.2024" in item["recovery_compensation"]["text"]
    assert item["total"] == "172.21" and item["status"] == "unpaid"
    balance = await billing.get("/me/balance", B)
    # 149.69 invoiced + 172.21 charged by the note − 100.00 paid
    assert balance["balance"]["amount"] == "221.90" and balance["balance"]["position"] == "due"
    assert balance["interest_notes"]["recovery_compensation"] == "170.92"
    assert balance["interest_notes"]["interest"] == "1.29"
    (overdue,) = balance["overdue"]["invoices"]
    assert overdue["recovery_compensation"] == {
        "state": "charged",
        "note_number": "NO/10000225010001/01",
        "text": "rekompensata za koszty odzyskiwania należności naliczona w nocie "
        "NO/10000225010001/01",
    }

    # The note paid by name, the rest of the invoice late: the second note charges
    # interest only. 49.69 × 15.75 % × 37 / 365 = 0.7933… → 0.79.
    _at("2025-02-27")
    second = [
        note_payment("P-B2", B, "NO/10000225010001/01", "2025-02-26", "172.21"),
        payment_row("P-B3", B, IB["invoice_number"], "2025-02-26", "49.69"),
    ]
    await billing.feed(second)
    later = await billing.tap.until("billing.interest_note.issued", payment_id="P-B3")
    assert later.payload["amount"] == "0.79" and later.payload["recovery_compensation"] is None
    assert (await billing.feed(second, expect=200))["replayed"] is True
    balance = await billing.get("/me/balance", B)
    # 149.69 + 172.21 + 0.79 − (100.00 + 172.21 + 49.69)
    assert balance["balance"]["amount"] == "0.79"
    assert balance["overdue"]["amount"] == "0.00"  # the new note is payable by 2025-03-13
    notes = {n["note_number"]: n for n in (await billing.get("/me/interest-notes", B))["items"]}
    assert notes["NO/10000225010001/01"]["status"] == "paid"
    assert notes["NO/10000225010001/02"]["outstanding"] == "0.79"

    async with asyncpg.create_pool(billing.settings.database_url, min_size=1) as pool:
        charged = await pool.fetchval(
            "SELECT count(*) FROM interest_notes WHERE compensation_pln IS NOT NULL"
        )
    assert charged == 1
    await assert_facts_as_before(billing, H, B)


async def test_a_missing_eur_rate_refuses_rather_than_guesses(billing: Billing) -> None:
    _at("2026-03-20")
    ib = invoice_row("10000226010001", B, "U/100002/2024", issue_date="2026-01-05")  # due 01-19
    await billing.feed([*_base(), ib])
    path = f"/operator/invoices/{ib['invoice_number']}/interest-notes"
    resp = await billing.client.post(path, headers=billing.issuer.operator(roles=("billing",)))
    assert resp.status == 409 and resp.content_type == "application/problem+json"
    problem = await resp.json()
    assert problem["errors"][0]["field"] == "rate_date"
    assert "z dnia 2025-12-31" in problem["detail"] and "rekompensaty" in problem["detail"]

    late = [payment_row("P-B1", B, ib["invoice_number"], "2026-03-10", ib["gross"])]
    refused = await billing.feed(late, expect=422)
    (error,) = refused["errors"]
    assert error["line"] == 1 and error["field"] == "paid_on" and "2025-12-31" in error["reason"]
    (invoice,) = (await billing.get("/me/invoices", B))["items"]
    assert invoice["amount_paid"] == "0.00"  # nothing of the batch was applied

    op = billing.issuer.operator(roles=("billing",))
    add = {"rate_date": "2025-12-31", "eur_pln": "4.2000"}  # a test value, not NBP's
    assert (await billing.client.post("/operator/eur-rates", headers=op, json=add)).status == 201
    assert (await billing.client.post("/operator/eur-rates", headers=op, json=add)).status == 200
    for body, field, status in [
        ({**add, "eur_pln": "4.3000"}, "rate_date", 409),  # a day's rate never changes
        ({**add, "rate_date": "2025-12-27"}, "rate_date", 422),  # a Saturday
        ({**add, "rate_date": "2025-12-24"}, "rate_date", 422),  # Wigilia, a holiday from 2025
        ({**add, "eur_pln": "4.2"}, "eur_pln", 422),
        ({**add, "table_number": "251/A/NBP/2024"}, "table_number", 422),
    ]:
        resp = await billing.client.post("/operator/eur-rates", headers=op, json=body)
        assert resp.status == status, body
        assert resp.content_type == "application/problem+json"
        assert (await resp.json())["errors"][0]["field"] == field, body
    rates = await (await billing.client.get("/operator/eur-rates", headers=op)).json()
    assert [r["rate_date"] for r in rates["items"]] == [
        "2022-12-30",
        "2023-12-29",
        "2024-12-31",
        "2025-12-31",
    ]

    await billing.feed(late)  # the same batch again, now that the rate is there
    note = await billing.tap.until("billing.interest_note.issued", payment_id="P-B1")
    assert note.payload["recovery_compensation"]["pln"] == "168.00"  # 40 × 4.2000


async def test_the_balance_says_what_paying_an_overdue_business_invoice_today_costs(
    billing: Billing,
) -> None:
    _at("2025-02-19")
    await billing.feed([*_base(), IB])
    balance = await billing.get("/me/balance", B)
    (overdue,) = balance["overdue"]["invoices"]
    # 149.69 × 15.75 % × 30 / 365 = 1.9377… → 1.94 interest; compensation 170.92
    assert overdue["interest"]["accrued_to_today"] == "1.94"
    assert overdue["recovery_compensation"]["state"] == "due"
    assert overdue["recovery_compensation"]["pln"] == "170.92"
    assert overdue["interest"]["to_pay_if_paid_today"] == "322.55"  # 149.69 + 1.94 + 170.92


# -- payments allocated by art. 451 KC -------------------------------------------------------


async def test_payments_go_to_the_named_debt_else_the_oldest_due(billing: Billing) -> None:
    _at("2026-03-20")
    i1 = invoice_row("10000125110001", H, "U/100001/2023", issue_date="2025-11-06", water_m3="80")
    i2 = invoice_row("10000126010002", H, "U/100001/2023", issue_date="2026-01-05")
    await billing.feed([*_base(), i1, i2])
    path = f"/operator/invoices/{i1['invoice_number']}/interest-notes"
    first = await (
        await billing.client.post(path, headers=billing.issuer.operator(roles=("billing",)))
    ).json()
    # 1103.00 × (9.75 × 13 + 9.50 × 91 + 9.25 × 16) / 36500 = 34.4272… → 34.43
    assert first["amount"] == "34.43" and first["recovery_compensation"] is None
    n1 = first["note_number"]

    batch = [
        note_payment("U-1", H, n1, "2026-03-20", "10.00"),  # the note, by name
        unnamed_payment("U-2", H, "2026-03-20", "200.00"),  # I1: its note's rest first
        unnamed_payment("U-3", H, "2026-03-20", "2000.00"),  # I1's rest, then I2, then over
    ]
    result = await billing.feed(batch)
    assert result["summary"]["payments"]["created"] == 3
    posted = {}
    for _ in range(3):
        event = await billing.tap.until("billing.payment.posted")
        posted[event.payload["payment_id"]] = event.payload
    assert posted["U-1"]["allocations"] == [
        {"invoice_number": i1["invoice_number"], "note_number": n1, "amount": "10.00"}
    ]
    assert posted["U-1"]["note_number"] == n1
    assert posted["U-2"]["allocations"] == [
        {"invoice_number": i1["invoice_number"], "note_number": n1, "amount": "24.43"},
        {"invoice_number": i1["invoice_number"], "note_number": None, "amount": "175.57"},
    ]
    assert posted["U-3"]["allocations"] == [
        {"invoice_number": i1["invoice_number"], "note_number": None, "amount": "927.43"},
        {"invoice_number": i2["invoice_number"], "note_number": None, "amount": "149.69"},
    ]
    assert posted["U-3"]["overpaid"] == "922.88"  # 2000.00 − 927.43 − 149.69
    assert posted["U-3"]["invoice_number"] == i1["invoice_number"]
    assert posted["U-3"]["late"] is True

    # I2 was paid late by U-3: 149.69 × (9.50 × 44 + 9.25 × 16) / 36500 = 2.3212… → 2.32.
    # I1's days up to today were charged by the on-demand note already: no second note.
    late = await billing.tap.until("billing.interest_note.issued", reason="late-payment")
    assert late.payload["invoice_number"] == i2["invoice_number"]
    assert late.payload["amount"] == "2.32" and late.payload["payment_id"] == "U-3"

    listed = {i["invoice_number"]: i for i in (await billing.get("/me/invoices", H))["items"]}
    assert listed[i1["invoice_number"]]["status"] == "paid"
    assert listed[i2["invoice_number"]]["amount_paid"] == "149.69"
    notes = {n["note_number"]: n for n in (await billing.get("/me/interest-notes", H))["items"]}
    assert notes[n1]["amount_paid"] == "34.43" and notes[n1]["status"] == "paid"
    balance = await billing.get("/me/balance", H)
    # 1103.00 + 149.69 + 34.43 + 2.32 − 2210.00 = −920.56
    assert balance["balance"] == {
        "position": "overpaid",
        "amount": "920.56",
        "text": "nadpłata 920,56\u00a0zł",
    }
    assert balance["overdue"]["amount"] == "0.00"
    assert balance["interest_notes"]["outstanding"] == "2.32"
    detail = await billing.get(f"/me/invoices/{i1['invoice_number']}", H)
    assert [p["amount"] for p in detail["payments"]] == ["175.57", "927.43"]

    again = await billing.feed(batch, expect=200)
    assert again["replayed"] is True
    assert (await billing.get("/me/balance", H))["balance"]["amount"] == "920.56"
    await assert_facts_as_before(billing, H)


async def test_an_unpaid_note_past_its_term_is_overdue(billing: Billing) -> None:
    _at("2026-03-20")
    i1 = invoice_row("10000125110001", H, "U/100001/2023", issue_date="2025-11-06", water_m3="80")
    await billing.feed(
        [*_base(), i1, payment_row("P-1", H, i1["invoice_number"], "2026-03-10", "1103.00")]
    )
    # 1103.00 × (9.75 × 13 + 9.50 × 91 + 9.25 × 6) / 36500 = 31.6319… → 31.63
    (note,) = (await billing.get("/me/interest-notes", H))["items"]
    assert note["amount"] == "31.63" and note["payable_by"] == "2026-04-03"
    assert (await billing.get("/me/balance", H))["overdue"]["amount"] == "0.00"

    _at("2026-04-10")
    balance = await billing.get("/me/balance", H)
    assert balance["overdue"]["invoices"] == []
    assert balance["overdue"]["amount"] == "31.63"
    (late,) = balance["overdue"]["interest_notes"]
    assert late["note_number"] == note["note_number"] and late["days_late"] == 7
    listed = (await billing.get("/me/interest-notes", H))["items"]
    assert listed[0]["status"] == "overdue"

    # Paid without naming a debt: the oldest due debt is the note.
    await billing.feed([unnamed_payment("P-2", H, "2026-04-10", "31.63")])
    balance = await billing.get("/me/balance", H)
    assert balance["overdue"]["amount"] == "0.00"
    assert balance["balance"]["position"] == "settled"


async def test_payment_indications_are_checked(billing: Billing) -> None:
    _at("2026-03-20")
    i1 = invoice_row("10000125110001", H, "U/100001/2023", issue_date="2025-11-06")
    await billing.feed([*_base(), i1])
    both = {**payment_row("P-1", H, i1["invoice_number"], "2026-03-01", "1.00")}
    both["note_number"] = "NO/10000125110001/01"
    for row, field, reason in [
        (both, "note_number", "wpłata wskazuje albo fakturę, albo notę odsetkową"),
        (
            note_payment("P-2", H, "NO/10000125110001/07", "2026-03-01", "1.00"),
            "note_number",
            "nieznana nota odsetkowa NO/10000125110001/07",
        ),
        (
            note_payment("P-3", H, "NO/1000/01", "2026-03-01", "1.00"),
            "note_number",
            "nieprawidłowy format",
        ),
        (
            unnamed_payment("P-4", "100009", "2026-03-01", "1.00"),
            "client_number",
            "nieznany klient 100009",
        ),
    ]:
        refused = await billing.feed([row], expect=422)
        assert refused["errors"][0]["field"] == field, row
        assert refused["errors"][0]["reason"].startswith(reason), refused["errors"]
    # A client with no invoice at all: an unnamed payment has nothing to go to.
    await billing.feed([client_row("100003")])
    refused = await billing.feed(
        [unnamed_payment("P-5", "100003", "2026-03-01", "5.00")], expect=422
    )
    assert refused["errors"][0]["field"] == "invoice_number"


# -- the buyer as on the day of issue ------------------------------------------------------


async def test_an_invoice_copy_keeps_the_buyer_it_was_issued_to(billing: Billing) -> None:
    _at("2026-03-20")
    i1 = invoice_row("10000126010001", H, "U/100001/2023", issue_date="2026-01-05")
    await billing.feed([*_base(), i1])
    before = await billing.get(f"/me/invoices/{i1['invoice_number']}/pdf", H)
    moved = {**client_row(H), "name": "Jan Nowy", "street": "ul. Inna 7", "city": "Kraków"}
    i2 = invoice_row("10000126030002", H, "U/100001/2023", issue_date="2026-03-05")
    await billing.feed([moved, i2])
    documents.clear_cache()
    after = await billing.get(f"/me/invoices/{i1['invoice_number']}/pdf", H)
    assert after == before  # the same invoice, the same bytes, after the client moved
    original = await billing.client.get(
        f"/internal/invoices/{i1['invoice_number']}/pdf", headers=billing.issuer.service()
    )
    first_original = await original.read()
    documents.clear_cache()
    again = await billing.client.get(
        f"/internal/invoices/{i1['invoice_number']}/pdf", headers=billing.issuer.service()
    )
    assert await again.read() == first_original  # the e-invoice original is kept as well

    async with asyncpg.create_pool(billing.settings.database_url, min_size=1) as pool:
        rows = await pool.fetch(
            "SELECT invoice_number, buyer_name, buyer_street, buyer_city FROM invoices"
            " ORDER BY invoice_number"
        )
    assert [tuple(r) for r in rows] == [
        (i1["invoice_number"], f"Klient Żółć {H}", "ul. Łąkowa 01", "Warszawa"),
        (i2["invoice_number"], "Jan Nowy", "ul. Inna 7", "Kraków"),
    ]


async def test_migration_0002_backfills_buyers_and_allocations(database: str) -> None:
    folder = resources.files("ebok_billing") / "migrations"
    conn = await asyncpg.connect(database)
    try:
        await conn.execute((folder / "0001_billing.sql").read_text("utf-8"))
        await conn.execute(
            """INSERT INTO clients VALUES ('100001', 'Anna Żak', 'household', NULL, NULL,
                   'ul. Łąkowa 1', '00-950', 'Warszawa');
               INSERT INTO contracts (contract_number, client_number, concluded_on, street,
                   postal_code, city, tariff_group, meter_serials)
               VALUES ('U/1', '100001', '2024-01-01', 'ul. Wodna 1', '00-950', 'Warszawa',
                   'G1', '{WM-1}');
               INSERT INTO invoices (invoice_number, client_number, contract_number,
                   issue_date, due_date, period_from, period_to, water_m3, water_price,
                   water_net, sewage_m3, sewage_price, sewage_net, subscription_net,
                   vat_rate, net, vat, gross, amount_paid, delivery, source)
               VALUES ('10000125010001', '100001', 'U/1', '2025-01-05', '2025-01-19',
                   '2024-12-01', '2024-12-31', 10, 5.48, 54.80, 10, 7.13, 71.30, 12.50, 8,
                   138.60, 11.09, 149.69, 149.69, 'paper', 'feed');
               INSERT INTO payments (payment_id, client_number, invoice_number, paid_on,
                   amount) VALUES ('P-1', '100001', '10000125010001', '2025-01-10', 149.69);
            """
        )
        await conn.execute(
            (folder / "0002_compensation_allocation_snapshot.sql").read_text("utf-8")
        )
        buyer = await conn.fetchrow(
            "SELECT buyer_name, buyer_street, buyer_postal_code, buyer_city, buyer_nip"
            " FROM invoices"
        )
        allocations = await conn.fetch("SELECT * FROM payment_allocations")
    finally:
        await conn.close()
    assert tuple(buyer) == ("Anna Żak", "ul. Łąkowa 1", "00-950", "Warszawa", None)
    assert [(a["payment_id"], a["invoice_number"], a["amount"]) for a in allocations] == [
        ("P-1", "10000125010001", Decimal("149.69"))
    ]
