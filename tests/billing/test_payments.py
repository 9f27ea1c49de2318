"""Paying from e-BOK through billing's real app: the transfer that pays the balance today."""

from __future__ import annotations

from decimal import Decimal

from ebok_billing.payments.transfer_qr import parse

from tests.billing.helpers import Billing
from tests.billing.test_customer import I1, I3, A, B, loaded  # noqa: F401  (the fixture)


async def test_the_balance_transfer_pays_all_owed_today(loaded: Billing) -> None:  # noqa: F811
    balance = await loaded.get("/me/balance", A)
    notes = (await loaded.get("/me/interest-notes", A))["items"]
    transfer = await loaded.get("/me/balance/transfer", A)
    accrued = sum(
        Decimal(o["interest"]["accrued_to_today"]) for o in balance["overdue"]["invoices"]
    )
    expected = Decimal(balance["balance"]["amount"]) + accrued
    assert accrued > 0 and transfer["amount"] == f"{expected}"
    assert transfer["invoices"] == [I1["invoice_number"], I3["invoice_number"]]
    assert transfer["interest_notes"] == [n["note_number"] for n in notes]
    fields = parse(transfer["transfer"]["qr_payload"])
    assert fields == {
        "nip": "5250000009",
        "country": "PL",
        "account": (await loaded.get(f"/me/invoices/{I1['invoice_number']}", A))[
            "bank_account"
        ].replace(" ", ""),
        "amount": f"{round(expected * 100):06d}",
        "recipient": "MPWiK Warszawa",
        "title": f"{I1['invoice_number']} {I3['invoice_number']} +1",
        "direct_debit_id": "",
        "invoobill_id": "",
        "reserved": "",
    }


async def test_nothing_to_pay_gives_no_code(loaded: Billing) -> None:  # noqa: F811
    settled = await loaded.get("/me/balance/transfer", B)  # B paid its only invoice
    assert settled["available"] is False and settled["transfer"] is None
    assert settled["amount"] == "0.00" and settled["reason"] == "Nie masz nic do zapłaty."
