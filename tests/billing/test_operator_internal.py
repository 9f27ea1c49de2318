"""Internal API contracts, operator functions, the billing run, events and demo data."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
from ebok_billing import events
from ebok_shared.bus import Event, Topology
from ebok_shared.bus.catalogue import default_catalogue
from ebok_shared.clock import LOCAL_TZ, clock
from jsonschema import Draft202012Validator, FormatChecker

from deploy import demo_data as demo
from tests.billing.helpers import (
    Billing,
    billing_settings,
    client_row,
    contract_row,
    invoice_row,
    payment_row,
    running_billing,
)
from tests.support.tokens import running_issuer

A = "100001"
INVOICE = invoice_row("10000125110001", A, "U/100001/2023", issue_date="2025-11-06")
TODAY = dt.datetime(2026, 3, 20, 12, 0, tzinfo=LOCAL_TZ)


def _schema(name: str) -> Draft202012Validator:
    text = (resources.files("ebok_billing") / "api_schemas" / name).read_text("utf-8")
    return Draft202012Validator(json.loads(text), format_checker=FormatChecker())


async def test_internal_api_answers_its_contracts(billing: Billing) -> None:
    await billing.feed(
        [client_row(A, email="jan@example.pl"), contract_row("U/100001/2023", A), INVOICE]
    )
    service = billing.issuer.service("notifier")
    resp = await billing.client.get(
        f"/internal/invoices/{INVOICE['invoice_number']}", headers=service
    )
    body = await resp.json()
    _schema("internal_invoice.v1.json").validate(body)
    assert body["gross"] == INVOICE["gross"] and body["delivery"] == "paper"
    pdf = await billing.client.get(
        f"/internal/invoices/{INVOICE['invoice_number']}/pdf", headers=service
    )
    assert pdf.content_type == "application/pdf"
    original = await pdf.read()
    assert original.startswith(b"%PDF")
    # The e-invoice is the original invoice; only the customer's download is a copy (ODPIS).
    number = INVOICE["invoice_number"]
    assert f"/Title (Faktura VAT nr {number})".encode() in original
    assert b"Odpis" not in original
    copy = await billing.get(f"/me/invoices/{number}/pdf", A)
    assert f"/Title (Odpis faktury {number})".encode() in copy
    client = await (await billing.client.get(f"/internal/clients/{A}", headers=service)).json()
    _schema("internal_client.v1.json").validate(client)
    assert client["active_contracts"] == 1 and client["e_invoice"]["status"] == "none"

    for path, status in [
        (f"/internal/invoices/{A}99999999", 404),
        ("/internal/clients/12", 400),
        ("/internal/invoices/abc/pdf", 400),
    ]:
        assert (await billing.client.get(path, headers=service)).status == status, path
    customer = await billing.client.get(
        f"/internal/clients/{A}", headers=billing.issuer.customer(A)
    )
    assert customer.status == 403


async def test_rate_table_is_data_an_operator_extends(billing: Billing) -> None:
    op = billing.issuer.operator(roles=("billing",))
    rates = await (await billing.client.get("/operator/interest-rates", headers=op)).json()
    assert rates["items"][0] == {
        **rates["items"][0],
        "effective_from": "2022-09-08",
        "reference_rate_percent": "6.75",
        "added_by": "packaged",
    }
    added = await billing.client.post(
        "/operator/interest-rates",
        headers=op,
        json={"effective_from": "2026-09-03", "reference_rate_percent": "3.50"},
    )
    assert added.status == 201
    earlier = await billing.client.post(
        "/operator/interest-rates",
        headers=op,
        json={"effective_from": "2026-01-01", "reference_rate_percent": "3.00"},
    )
    assert earlier.status == 409
    assert (await earlier.json())["errors"][0]["field"] == "effective_from"
    bad = await billing.client.post(
        "/operator/interest-rates",
        headers=op,
        json={"effective_from": "2026-10-01", "reference_rate_percent": "-1"},
    )
    assert bad.status == 422
    rates = await (await billing.client.get("/operator/interest-rates", headers=op)).json()
    assert rates["items"][-1]["household_rate_percent"] == "9.00"


async def test_a_rate_the_operator_adds_counts_in_the_next_balance(billing: Billing) -> None:
    """The balance keeps the rate table it built while the rows it reads stay the same
    (issue 17); a row the operator adds changes them, and the very next balance uses it."""
    clock.freeze(TODAY)
    await billing.feed([client_row(A), contract_row("U/100001/2023", A), INVOICE])

    async def periods() -> list[tuple[str, str]]:
        (overdue,) = (await billing.get("/me/balance", A))["overdue"]["invoices"]
        return [(p["from"], p["annual_rate_percent"]) for p in overdue["interest"]["periods"]]

    assert (await periods())[-1] == ("2026-03-05", "9.25")  # 3.75 + 5.50
    assert await periods() == await periods()  # built once, the same answer again
    added = await billing.client.post(
        "/operator/interest-rates",
        headers=billing.issuer.operator(roles=("billing",)),
        json={"effective_from": "2026-03-18", "reference_rate_percent": "3.50"},
    )
    assert added.status == 201
    assert (await periods())[-2:] == [("2026-03-05", "9.25"), ("2026-03-18", "9.00")]


async def test_on_demand_interest_note_for_an_unpaid_overdue_invoice(billing: Billing) -> None:
    clock.freeze(TODAY)
    await billing.feed([client_row(A), contract_row("U/100001/2023", A), INVOICE])
    path = f"/operator/invoices/{INVOICE['invoice_number']}/interest-notes"
    first = await billing.client.post(path, headers=billing.issuer.operator(roles=("billing",)))
    assert first.status == 201
    note = await first.json()
    assert note["reason"] == "on-demand" and note["period"]["to"] == "2026-03-20"
    assert note["days"] == (dt.date(2026, 3, 20) - dt.date(2025, 11, 20)).days
    same = await billing.client.post(path, headers=billing.issuer.operator(roles=("billing",)))
    assert same.status == 200 and (await same.json())["note_number"] == note["note_number"]
    event = await billing.tap.until("billing.interest_note.issued")
    assert event.payload["amount"] == note["amount"] and event.payload["payment_id"] is None
    # The balance counts no day twice: the note charged up to today, so nothing more
    # accrues today; three days on, the days after the note (149.69 × 9.25 % × 3 / 365).
    (overdue,) = (await billing.get("/me/balance", A))["overdue"]["invoices"]
    assert overdue["interest"]["accrued_to_today"] == "0.00"
    clock.freeze(TODAY + dt.timedelta(days=3))
    (overdue,) = (await billing.get("/me/balance", A))["overdue"]["invoices"]
    assert overdue["days_late"] == (dt.date(2026, 3, 23) - dt.date(2025, 11, 20)).days
    assert [(p["from"], p["days"]) for p in overdue["interest"]["periods"]] == [("2026-03-21", 3)]
    assert overdue["interest"]["accrued_to_today"] == "0.11"

    # Paid later: the late-payment note charges only the days after the on-demand note.
    clock.freeze(TODAY + dt.timedelta(days=10))
    await billing.feed(
        [payment_row("P-1", A, INVOICE["invoice_number"], "2026-03-25", INVOICE["gross"])]
    )
    late = await billing.tap.until("billing.interest_note.issued", reason="late-payment")
    assert late.payload["periods"][0]["from"] == "2026-03-21"
    assert late.payload["days_late"] == 5
    # Art. 451 § 1: the payment first covered the invoice's note issued before it, so
    # that much of the principal is still unpaid, and a new note may charge it.
    rest = Decimal(note["total"])
    assert Decimal(late.payload["principal"]) == Decimal(INVOICE["gross"]) - rest
    again = await billing.client.post(path, headers=billing.issuer.operator(roles=("billing",)))
    assert again.status == 201
    second = await again.json()
    assert second["principal"] == f"{rest}"
    # Paying the rest, the late payment's note and the second note settles everything:
    # nothing is left to charge.
    everything = rest + Decimal(late.payload["total"]) + Decimal(second["total"])
    await billing.feed(
        [payment_row("P-2", A, INVOICE["invoice_number"], "2026-03-30", f"{everything}")]
    )
    clock.freeze(TODAY + dt.timedelta(days=11))
    paid = await billing.client.post(path, headers=billing.issuer.operator(roles=("billing",)))
    assert paid.status == 409


async def test_each_tariff_change_is_kept_with_who_and_when(billing: Billing) -> None:
    clock.freeze(TODAY)
    tariff = {
        "tariff_group": "G1",
        "valid_from": "2026-01-01",
        "water_price": "6.00",
        "sewage_price": "8.00",
        "subscription_fee": "10.00",
        "vat_rate": "8",
    }
    first = await billing.client.put(
        "/operator/tariffs", headers=billing.issuer.operator("ewa", ("billing",)), json=tariff
    )
    assert first.status == 200
    clock.freeze(TODAY + dt.timedelta(hours=2))
    again = await billing.client.put(
        "/operator/tariffs",
        headers=billing.issuer.operator("jan", ("billing",)),
        json={**tariff, "water_price": "6.50"},
    )
    assert again.status == 200
    listed = await (
        await billing.client.get(
            "/operator/tariffs", headers=billing.issuer.operator(roles=("billing",))
        )
    ).json()
    [g1] = [t for t in listed["items"] if t["tariff_group"] == "G1"]
    assert (g1["water_price"], g1["changed_by"]) == ("6.5", "operator:jan")
    assert dt.datetime.fromisoformat(g1["changed_at"]) == TODAY + dt.timedelta(hours=2)
    changes = await (
        await billing.client.get(
            "/operator/tariffs/changes", headers=billing.issuer.operator(roles=("billing",))
        )
    ).json()
    assert changes["total"] == 2
    assert [(c["water_price"], c["replaced"], c["changed_by"]) for c in changes["items"]] == [
        ("6.5", True, "operator:jan"),
        ("6", False, "operator:ewa"),
    ]


async def test_billing_run_invoices_accepted_readings(
    database: str, amqp_url: str, bus_prefix: str
) -> None:
    clock.freeze(TODAY)
    async with running_issuer() as issuer:
        settings = billing_settings(
            database, amqp_url, bus_prefix, issuer.jwks_url, billing_run=True
        )
        async with running_billing(settings, issuer) as b:
            http, tap = b.client, b.tap
            await b.feed(
                [
                    client_row(A),
                    contract_row("U/100001/2023", A, meters=["WM-100001-1", "WG-100001-1"]),
                ]
            )
            tariff = await http.put(
                "/operator/tariffs",
                headers=b.issuer.operator(roles=("billing",)),
                json={
                    "tariff_group": "G1",
                    "valid_from": "2026-01-01",
                    "water_price": "6.00",
                    "sewage_price": "8.00",
                    "subscription_fee": "10.00",
                    "vat_rate": "8",
                },
            )
            assert tariff.status == 200
            readings = [
                ("WM-100001-1", "100.000", "2026-01-31", "main"),
                ("WG-100001-1", "5.000", "2026-01-31", "garden"),
                ("WG-100001-1", "7.500", "2026-03-15", "garden"),
                ("WM-100001-1", "112.250", "2026-03-18", "main"),
            ]
            await _publish_readings(amqp_url, bus_prefix, readings)
            issued = await tap.until("billing.invoice.issued")
            # water 12.250 m³; sewage 12.250 − 2.500 through the garden meter
            net = Decimal("12.250") * 6 + Decimal("9.750") * 8 + 10
            assert issued.payload["net"] == f"{net:.2f}"
            assert issued.payload["invoice_number"] == f"{A}26030001"
            assert issued.payload["due_date"] == "2026-04-03"
    conn = await asyncpg.connect(database)
    try:
        billed = await conn.fetchval(
            "SELECT count(*) FROM meter_readings WHERE invoice_number IS NOT NULL"
        )
    finally:
        await conn.close()
    assert billed == 3  # the first main reading is only where counting starts


async def _publish_readings(
    amqp_url: str, prefix: str, readings: list[tuple[str, str, str, str]]
) -> None:
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            Topology(prefix).exchange("readings"), aio_pika.ExchangeType.TOPIC, durable=True
        )
        for serial, value, read_on, kind in readings:
            event = Event.new(
                events.READING_ACCEPTED,
                {
                    "reading_id": str(uuid.uuid4()),
                    "meter_serial": serial,
                    "contract_number": "U/100001/2023",
                    "client_number": A,
                    "value": value,
                    "read_on": read_on,
                    "kind": kind,
                },
            )
            default_catalogue().validate(event)
            await exchange.publish(
                aio_pika.Message(event.to_json(), message_id=str(event.id), type=event.type),
                routing_key=event.type,
                mandatory=True,
            )
    finally:
        await connection.close()


def test_every_billing_event_has_a_schema_with_valid_examples() -> None:
    catalogue = default_catalogue()
    published = [
        events.CLIENT_UPSERTED,
        events.CONTRACT_CONCLUDED,
        events.CONTRACT_TERMINATED,
        events.INVOICE_ISSUED,
        events.PAYMENT_POSTED,
        events.INTEREST_NOTE_ISSUED,
        events.CONSENT_CHANGED,
        events.CONFIRMATION_REQUESTED,
        events.READING_ACCEPTED,
    ]
    for event_type in published:
        schema = catalogue.schemas[(event_type, 1)]
        assert schema["additionalProperties"] is False, event_type
        assert schema["examples"], event_type
        for example in schema["examples"]:
            catalogue.validate(Event.new(event_type, example))


def test_event_builders_keep_the_contracts_auth_consumes() -> None:
    """The payloads auth reads, built by billing, against the fixed v1 schemas."""
    catalogue = default_catalogue()
    built: list[tuple[str, dict[str, Any]]] = [
        (
            events.CLIENT_UPSERTED,
            events.client_upserted(
                A, "Jan Kowalski", "household", None, None, "ul. Ż 1", "00-001", "Warszawa"
            ),
        ),
        (
            events.CONTRACT_CONCLUDED,
            events.contract_concluded(
                "U/100001/2023",
                A,
                dt.date(2023, 1, 10),
                "ul. Ż 1",
                "00-001",
                "Warszawa",
                "G1",
                ("WM-100001-1",),
            ),
        ),
        (
            events.CONTRACT_TERMINATED,
            events.contract_terminated("U/100001/2023", A, dt.date(2026, 1, 31), 0),
        ),
        (
            events.INVOICE_ISSUED,
            events.invoice_issued(
                "10000126010001",
                A,
                dt.date(2026, 1, 5),
                dt.date(2026, 1, 19),
                Decimal("100"),
                Decimal("8"),
                Decimal("108"),
                None,
                "jan@example.pl",
            ),
        ),
    ]
    for event_type, payload in built:
        catalogue.validate(Event.new(event_type, payload))
    assert built[3][1]["delivery"] == "e-mail" and built[3][1]["gross"] == "108.00"


def test_demo_data_is_deterministic_and_shaped_as_feed_batches() -> None:
    today = dt.date(2026, 3, 20)
    first = demo.generate(30, seed=5, today=today)
    assert first.encoded() == demo.generate(30, seed=5, today=today).encoded()
    assert first.encoded() != demo.generate(30, seed=6, today=today).encoded()
    # a client's data does not depend on how many clients are generated
    assert demo.generate(3, seed=5, today=today).demo_client == first.demo_client
    names = [name for name, _ in first.batches]
    assert names == ["01-clients", "02-contracts", "03-invoices-001", "04-payments-001"]
    invoices = first.batches[2][1]
    assert all(r["invoice_number"].startswith(r["client_number"]) for r in invoices)


async def test_demo_data_loads_through_billings_feed_command(
    billing: Billing, tmp_path: Path
) -> None:
    clock.freeze(TODAY)
    data = demo.generate(20)
    await asyncio.to_thread(
        demo.load, billing.settings.database_url, demo.write_shards(data, tmp_path, 1)
    )
    demo_client = data.demo_client
    listed = await billing.get("/me/invoices?page_size=100", demo_client.client_number)
    gross = {i["invoice_number"]: i["gross"] for i in listed["items"]}
    assert gross[demo_client.invoice_number] == demo_client.gross
    batches = await (
        await billing.client.get(
            "/operator/feed/batches", headers=billing.issuer.operator(roles=("billing",))
        )
    ).json()
    assert batches["total"] == 4 and {b["status"] for b in batches["items"]} == {"applied"}
    assert sum(b["summary"]["interest_notes"] for b in batches["items"]) > 0
