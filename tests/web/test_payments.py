"""Paying from the portal, over HTTP against the whole stack: the transfer QR code on the
balance page, decoded from the page as a phone would read it."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from ebok_billing.domain.transfer_qr import parse

from tests.e2e.client import Api, expect
from tests.e2e.stack import Stack
from tests.support.qr import svg_codes

from . import money_pages as mp
from .customers import ready_customer, sign_in
from .portal import Portal


async def test_balance_page_has_the_transfer_qr_code(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await ready_customer(stack, api, workdir)
    assert (await sign_in(portal, customer.client_number)).path == "/pulpit"
    token = await mp.token(api, customer)
    balance = expect(await api.get("/me/balance", token=token), 200)
    invoices = expect(await api.get("/me/invoices?status=overdue", token=token), 200)
    page = await portal.get("/saldo")
    assert page.status == 200, page

    # The amount to pay today as the page itself states it (balance + interest to today).
    today = Decimal(balance["balance"]["amount"]) + sum(
        Decimal(o["interest"]["accrued_to_today"]) for o in balance["overdue"]["invoices"]
    )
    assert f"Do zapłaty, jeśli zapłacisz dziś: {mp.pln(today)}" in page.text

    svg = re.search(r'<div class="qr-box">(<svg .*?</svg>)</div>', page.html, re.S)
    assert svg is not None, page.html
    assert 'role="img"' in svg.group(1) and "<title>Kod QR przelewu" in svg.group(1)
    (payload,) = svg_codes(svg.group(1))
    fields = parse(payload)
    numbers = [i["invoice_number"] for i in invoices["items"]]
    assert len(numbers) == 2
    assert fields["nip"] == "5250000009" and fields["country"] == "PL"
    assert len(fields["account"]) == 26 and fields["account"].endswith(customer.client_number)
    assert fields["amount"] == f"{round(today * 100):06d}"
    assert fields["recipient"] == "MPWiK Warszawa"
    assert fields["title"] == " ".join(sorted(numbers))
    assert fields["direct_debit_id"] == fields["invoobill_id"] == fields["reserved"] == ""

    # The text alternative: every field of the code, readable and copyable.
    said = mp.section(page, "przelew")
    account = " ".join([fields["account"][:2], *re.findall(r"\d{4}", fields["account"][2:])])
    for text in (account, mp.pln(today), fields["title"], "MPWiK Warszawa, NIP 5250000009"):
        assert text in said, (text, said)
