"""Paying from the portal, over HTTP against the whole stack: the transfer QR code on the
balance page (decoded from the page as a phone reads it), and paying online through the
payment sandbox the stack runs (deploy/payu_sandbox.py)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import aiohttp
from ebok_billing.payments.transfer_qr import parse

from tests.e2e.client import Api, expect
from tests.e2e.journeys import Session
from tests.e2e.mail import wait_for_mail
from tests.e2e.stack import Stack
from tests.support.qr import svg_codes
from tests.support.waiting import eventually

from . import money_pages as mp
from .browser import shared_stack  # noqa: F401  (fixture "stack": tests/web's shared one)
from .customers import ready_customer, sign_in
from .portal import Portal, attr, form_fields, one


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


async def test_paying_the_balance_online_through_the_sandbox(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await ready_customer(stack, api, workdir)
    dashboard = await sign_in(portal, customer.client_number)
    assert dashboard.path == "/pulpit"
    pay = one(dashboard.soup, "form[action='/platnosci'] button").get_text(strip=True)
    assert pay == "Zapłać online"  # the dashboard's, for the balance
    balance = await portal.get("/saldo")
    button = mp.plain(one(balance.soup, "form[action='/platnosci'] button").get_text(strip=True))
    transfer = expect(
        await api.get("/me/balance/transfer", token=await mp.token(api, customer)), 200
    )
    assert button == f"Zapłać online {mp.pln(transfer['amount'])}"

    started = await portal.submit(balance, action="/platnosci")
    assert started.status == 200 and started.path.startswith("/platnosci/"), started
    order_id = started.path.rsplit("/", 1)[1]
    assert one(started.soup, "#stan").get_text(strip=True) == "oczekuje na płatność"
    provider_page = attr(one(started.soup, "#do-platnosci"), "href")
    assert provider_page.startswith(stack.component("payu-sandbox").url.rstrip("/") + "/pay/")

    # Paying twice while this one is pending is refused, in Polish.
    again = await portal.submit(balance, action="/platnosci")
    assert again.status == 409 and "Masz już rozpoczętą płatność online" in again.text

    async with aiohttp.ClientSession() as browser:  # the customer at the provider
        page = await browser.get(provider_page)
        assert "Zapłać" in await page.text()
        back = await browser.post(provider_page + "/pay", allow_redirects=False)
        assert back.status == 303
    returned = back.headers["Location"]
    assert returned.endswith(f"/platnosci/{order_id}")

    async def paid() -> bool:
        page = await portal.get(returned)
        return one(page.soup, "#stan").get_text(strip=True) == "opłacona"

    await eventually(paid, "the order to be paid")
    history = await portal.get("/platnosci")
    assert mp.rows(history, "historia")[0][1:3] == [
        mp.pln(transfer["amount"]),
        "opłacona (w trakcie księgowania)",
    ]
    after = await portal.get("/saldo")
    assert f"Płatności online w trakcie księgowania: {mp.pln(transfer['amount'])}" in after.text
    assert after.soup.select_one("form[action='/platnosci']") is None  # nothing left to pay

    receipt = await wait_for_mail(
        stack.maildir, customer.email, lambda m: "Potwierdzenie płatności online" in m.subject
    )
    assert order_id in receipt.text


async def test_an_invoice_that_is_not_the_customers_is_refused(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await ready_customer(stack, api, workdir)
    await sign_in(portal, customer.client_number)
    token = await mp.token(api, customer)
    overdue = expect(await api.get("/me/invoices?status=overdue", token=token), 200)["items"]
    page = await portal.get(f"/faktury/{overdue[0]['invoice_number']}")
    refused = await portal.submit(page, {"invoice": "9999990000000001"}, action="/platnosci")
    assert refused.status == 409, refused
    assert "faktura 9999990000000001 nie jest Twoją nieopłaconą fakturą" in refused.text


async def test_choosing_which_invoices_and_notes_to_pay(
    portal: Portal, stack: Stack, api: Api, workdir: Path, operator: Session
) -> None:
    """The chooser without JavaScript: unpaid invoices and interest notes to tick; nothing
    ticked is said at the field; what is ticked is ordered, for billing's amount (interest
    to today on an overdue invoice), whatever else the form carries."""
    customer = await ready_customer(stack, api, workdir)
    token = await mp.token(api, customer)
    overdue = expect(await api.get("/me/invoices?status=overdue", token=token), 200)["items"]
    first, second = sorted(i["invoice_number"] for i in overdue)
    note = expect(
        await api.post(f"/operator/billing/invoices/{first}/interest-notes", token=operator.access),
        201,
    )
    await sign_in(portal, customer.client_number)
    balance = await portal.get("/saldo")
    assert "/platnosci/wybor" in balance.links()

    page = await portal.get("/platnosci/wybor")
    assert page.status == 200 and page.h1 == "Wybierz, co chcesz zapłacić", page
    boxes = {(str(b["name"]), str(b["value"])) for b in page.soup.select("input[type=checkbox]")}
    assert {("invoice", first), ("invoice", second), ("note", note["note_number"])} <= boxes
    labels = [
        mp.plain(x.get_text(" ", strip=True)) for x in page.soup.select("label.choice__label")
    ]
    assert f"Nota odsetkowa {note['note_number']}: {mp.pln(note['outstanding'])}" in labels

    # Nothing ticked: refused at the field, linked from the summary; no order started.
    empty = await portal.submit(page, action="/platnosci")
    assert empty.status == 422 and empty.path == "/platnosci", empty
    assert empty.field_error("documents") == "Wybierz co najmniej jedną fakturę lub notę odsetkową."
    assert empty.soup.select_one(".error-summary a[href='#documents']") is not None
    assert empty.soup.select_one("#documents") is not None
    history = expect(await api.get("/me/payment-orders", token=token), 200)
    assert history["items"] == []

    # One invoice and the note, with an amount the page never asks for (ignored).
    sent = [
        *form_fields(page.form("/platnosci")).items(),
        ("invoice", second),
        ("note", note["note_number"]),
        ("amount", "0.01"),
    ]
    started = await portal.post("/platnosci", sent)
    assert started.status == 200 and started.path.startswith("/platnosci/"), started
    order = expect(
        await api.get(f"/me/payment-orders/{started.path.rsplit('/', 1)[1]}", token=token), 200
    )
    assert order["invoice_numbers"] == [second]
    assert order["note_numbers"] == [note["note_number"]]
    balance_now = expect(await api.get("/me/balance", token=token), 200)
    (with_interest,) = [
        o["interest"]["to_pay_if_paid_today"]
        for o in balance_now["overdue"]["invoices"]
        if o["invoice_number"] == second
    ]
    assert Decimal(order["amount"]) == Decimal(with_interest) + Decimal(note["outstanding"])
    assert f"{mp.pln(order['amount'])}" in started.text
