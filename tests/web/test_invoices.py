"""Money pages: invoices (filters, paging, detail, PDF copy), the balance with its interest
worked out per rate period, interest notes, the e-invoice (accept, change, withdraw, each
with its confirmation state) and contracts (list, detail, document PDF) — over HTTP against
the whole stack, with customers loaded through billing's feed."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

from ebok_notifier.render import PAGES
from ebok_web.formatting import date

from tests.e2e.client import Api, expect
from tests.e2e.data import Customer, _months_back
from tests.e2e.journeys import Session
from tests.e2e.mail import wait_for_mail
from tests.e2e.stack import Stack

from . import money_pages as mp
from .browser import shared_stack  # noqa: F401  (fixture "stack": tests/web's shared one)
from .customers import ready_customer, sign_in
from .portal import Page, Portal, attr, form_fields, one


async def _signed_in(portal: Portal, stack: Stack, api: Api, workdir: Path) -> Customer:
    customer = await ready_customer(stack, api, workdir)
    page = await sign_in(portal, customer.client_number)
    assert page.path == "/pulpit", page
    return customer


async def _query(portal: Portal, page: Page, action: str, values: dict[str, str]) -> Page:
    """A GET form sent as a browser sends it: its fields in the address."""
    fields = {**form_fields(page.form(action)), **values}
    return await portal.get(f"{action}?{urlencode(fields)}")


async def _more_invoices(stack: Stack, workdir: Path, customer: Customer, count: int) -> None:
    """``count`` more invoices for the customer, through billing's feed (older ones)."""
    path = workdir / f"invoices-{customer.client_number}.jsonl"
    lines = []
    for k in range(count):
        issue = dt.date(2024, 1 + k % 12, 5)
        lines.append(
            {
                "type": "invoice",
                "invoice_number": f"{customer.client_number}{issue:%y%m}{k + 10:04d}",
                "client_number": customer.client_number,
                "contract_number": customer.contract_number,
                "issue_date": issue.isoformat(),
                "due_date": (issue + dt.timedelta(days=14)).isoformat(),
                "period_from": issue.replace(day=1).isoformat(),
                "period_to": issue.replace(day=28).isoformat(),
                "water_m3": "1.000",
                "water_price": "5.97",
                "sewage_m3": "1.000",
                "sewage_price": "7.76",
                "subscription_net": "0.00",
                "vat_rate": "8",
                "net": "13.73",
                "vat": "1.10",
                "gross": "14.83",
            }
        )
        lines.append(
            {
                "type": "payment",
                "payment_id": f"P{lines[-1]['invoice_number']}",
                "client_number": customer.client_number,
                "invoice_number": lines[-1]["invoice_number"],
                "paid_on": (issue + dt.timedelta(days=3)).isoformat(),
                "amount": "14.83",
            }
        )
    lines.sort(key=lambda r: r["type"] != "invoice")
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), "utf-8")
    code, printed = await stack.run("billing", "feed", str(path))
    assert code == 0, "\n".join(printed[-20:])


# -- invoices -----------------------------------------------------------------------------------


async def test_invoice_list_shows_the_customers_invoices_in_polish(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await _signed_in(portal, stack, api, workdir)
    page = await portal.get("/faktury")
    assert page.status == 200, page
    assert page.title == "Faktury – e-BOK MPWiK"
    assert page.h1 == "Faktury"
    rows = mp.rows(page, "lista-faktur")
    assert [r[0].removeprefix("Szczegóły faktury ") for r in rows] == [
        n for n, _ in reversed(customer.invoices)
    ]
    for row, (_, gross) in zip(rows, reversed(customer.invoices), strict=True):
        assert row[4] == mp.pln(gross)
    assert rows[-1][6] == "opłacona"  # the oldest one was paid
    assert "Znaleziono: 3 faktury." in page.text
    links = page.links()
    assert f"/faktury/{customer.invoice_number}" in links
    assert f"/faktury/{customer.invoice_number}/pdf" in links
    assert not page.soup.select(".pager")  # one page only


async def test_invoice_filters_and_paging(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await _signed_in(portal, stack, api, workdir)
    await _more_invoices(stack, workdir, customer, 10)  # 13 in all (11 paid): two pages

    first = await portal.get("/faktury")
    assert "Znaleziono: 13 faktur." in first.text, first
    assert len(mp.rows(first, "lista-faktur")) == 10
    assert "Strona 1 z 2" in one(first.soup, ".pager").get_text(" ", strip=True)
    second = await portal.get(attr(one(first.soup, ".pager a[rel=next]"), "href"))
    assert second.status == 200 and second.title == "Faktury — strona 2 – e-BOK MPWiK", second
    assert len(mp.rows(second, "lista-faktur")) == 3

    paid = await _query(portal, first, "/faktury", {"status": "paid"})
    assert paid.status == 200, paid
    assert "status=paid" in paid.url
    rows = mp.rows(paid, "lista-faktur")
    assert len(rows) == 10 and all(r[6] == "opłacona" for r in rows)
    paid_two = await portal.get(attr(one(paid.soup, ".pager a[rel=next]"), "href"))
    assert "status=paid" in paid_two.url and len(mp.rows(paid_two, "lista-faktur")) == 1
    assert attr(one(paid_two.soup, "option[selected]"), "value") == "paid"  # filter kept

    since = _months_back(dt.date.today(), 4).replace(day=5)  # the second invoice's issue
    recent = await portal.get(f"/faktury?od={since.isoformat()}")
    assert "Znaleziono: 2 faktury." in recent.text, recent

    wrong = await portal.get("/faktury?od=2026-02-01&do=2025-01-01&status=paid")
    assert wrong.status == 422, wrong
    assert wrong.error_summary(), wrong
    assert wrong.field_error("do") == "Data końcowa wcześniejsza niż początkowa"
    form = wrong.form("/faktury")
    assert attr(one(form, "input[name=od]"), "value") == "2026-02-01"  # values kept
    assert attr(one(form, "input[name=do]"), "value") == "2025-01-01"


async def test_invoice_detail_with_lines_and_payments_and_its_pdf(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await _signed_in(portal, stack, api, workdir)
    paid_number, paid_gross = customer.invoices[0]
    page = await portal.get(f"/faktury/{paid_number}")
    assert page.status == 200, page
    assert page.h1 == f"Faktura {paid_number}"
    assert page.title == f"Faktura {paid_number} – e-BOK MPWiK"
    lines = [r[0] for r in mp.rows(page, "pozycje")]
    assert lines == ["Dostawa wody", "Odprowadzanie ścieków", "Opłata abonamentowa"]
    water = mp.rows(page, "pozycje")[0]
    assert water[1] == "9 m³" and water[2] == "5,97 zł", water
    payments = mp.rows(page, "wplaty")
    assert payments[0][1] == mp.pln(paid_gross)
    assert "opłacona" in page.text
    assert customer.contract_number in page.text
    assert page.soup.select_one("link[rel=stylesheet][media=print]") is not None

    pdf = await portal.get(f"/faktury/{customer.invoice_number}/pdf")
    assert pdf.status == 200, pdf
    assert pdf.headers["Content-Type"].startswith("application/pdf")
    assert pdf.body.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"].startswith("attachment;")
    assert pdf.headers["Cache-Control"] == "no-store"


async def test_another_customers_invoice_and_contract_are_the_404_page(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    other = await ready_customer(stack, api, workdir)
    mine = await _signed_in(portal, stack, api, workdir)
    for path in (
        f"/faktury/{other.invoice_number}",
        f"/faktury/{other.invoice_number}/pdf",
        f"/umowy/{other.contract_number}",
        f"/umowy/{other.contract_number}/dokument",
        "/faktury/123",  # not an invoice number at all
        "/umowy/nie-ma",
    ):
        page = await portal.get(path)
        assert page.status == 404, (path, str(page))
        assert page.h1 == "Nie znaleziono strony", path
        assert other.client_number not in page.text
    assert (await portal.get(f"/faktury/{mine.invoice_number}")).status == 200


# -- balance and interest notes ---------------------------------------------------------------


async def test_balance_with_interest_per_rate_period_and_if_paid_today(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await _signed_in(portal, stack, api, workdir)
    balance = expect(await api.get("/me/balance", token=await mp.token(api, customer)), 200)
    page = await portal.get("/saldo")
    assert page.status == 200, page
    assert page.h1 == "Saldo i odsetki" and page.title == "Saldo i odsetki – e-BOK MPWiK"
    assert balance["balance"]["position"] == "due"
    assert f"Do zapłaty {mp.pln(balance['balance']['amount'])}" in page.text
    overdue = balance["overdue"]["invoices"]
    assert len(overdue) == 2, overdue  # the two unpaid invoices are past their due date
    today_total = Decimal(balance["balance"]["amount"])
    for item in overdue:
        number = item["invoice_number"]
        periods = item["interest"]["periods"]
        rows = mp.rows(page, f"odsetki-{number}")
        assert len(rows) == len(periods) >= 1
        for row, period in zip(rows, periods, strict=True):
            assert row[0] == date(period["from"], "short")
            assert row[2] == str(period["days"])
            assert row[4] == mp.pln(period["amount"])
        today_total += Decimal(item["interest"]["accrued_to_today"])
        comp = item.get("recovery_compensation") or {}
        if comp.get("state") == "due":
            today_total += Decimal(comp["pln"])
    expected = f"Do zapłaty, jeśli zapłacisz dziś: {mp.pln(today_total)}"
    assert expected in page.text, page.text
    assert "Po terminie" in page.text
    print_css = page.soup.select_one("link[rel=stylesheet][media=print]")
    assert print_css is not None
    assert (await portal.get(str(print_css["href"]))).status == 200


async def test_interest_notes_with_their_working(
    portal: Portal, stack: Stack, api: Api, workdir: Path, operator: Session
) -> None:
    customer = await _signed_in(portal, stack, api, workdir)
    empty = await portal.get("/noty-odsetkowe")
    assert empty.status == 200 and empty.h1 == "Noty odsetkowe", empty
    assert "Nie wystawiliśmy Ci not odsetkowych." in empty.text

    overdue = customer.invoices[1][0]
    note = expect(
        await api.post(
            f"/operator/billing/invoices/{overdue}/interest-notes", token=operator.access
        ),
        201,
    )
    page = await portal.get("/noty-odsetkowe")
    assert f"Nota {note['note_number']}" in page.text, page
    assert mp.pln(note["total"]) in page.text
    rows = mp.rows(page, "okresy-1")
    assert len(rows) == len(note["periods"]) >= 1
    assert rows[0][4] == mp.pln(note["periods"][0]["amount"])
    assert f"/faktury/{overdue}" in page.links()


# -- e-invoice ----------------------------------------------------------------------------------


async def test_e_invoice_accept_confirm_change_and_withdraw(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await _signed_in(portal, stack, api, workdir)
    page = await portal.get("/faktury/e-faktura")  # not taken for an invoice number
    assert page.status == 200 and page.h1 == "E-faktura", page
    assert "brak zgody" in page.text

    empty = await portal.submit(page, {"email": ""}, action="/faktury/e-faktura")
    assert empty.status == 422, empty
    assert empty.field_error("email") == "Wpisz adres e-mail, na który mamy wysyłać e-faktury."
    bad = await portal.submit(page, {"email": "to-nie-adres"}, action="/faktury/e-faktura")
    assert bad.status == 422 and bad.error_summary(), bad
    assert bad.field_error("email"), bad
    assert attr(one(bad.form("/faktury/e-faktura"), "input[name=email]"), "value") == "to-nie-adres"

    address = f"faktury.{customer.client_number}@example.pl"
    asked = await portal.submit(page, {"email": address}, action="/faktury/e-faktura")
    assert asked.path == "/faktury/e-faktura" and asked.status == 200, asked
    assert f"Czeka na potwierdzenie adresu {address}." in asked.text
    assert "Wysłaliśmy wiadomość z linkiem" in asked.text  # the API's message, once

    mail = await wait_for_mail(stack.maildir, address)
    token = mail.token(PAGES["confirm_e_invoice"])
    expect(await api.post("/e-invoice/confirmations", json={"token": token}), 200)
    accepted = await portal.get("/faktury/e-faktura")
    assert "zgoda udzielona" in accepted.text and address in accepted.text, accepted
    assert "Czeka na potwierdzenie" not in accepted.text

    other = f"nowy.{customer.client_number}@example.pl"
    changed = await portal.submit(accepted, {"email": other}, action="/faktury/e-faktura")
    assert f"Czeka na potwierdzenie adresu {other}." in changed.text, changed
    assert "zgoda udzielona" in changed.text  # the old address holds until confirmed

    ask = await portal.get("/faktury/e-faktura/wycofanie")
    assert ask.status == 200 and ask.h1 == "Wycofanie zgody na e-fakturę", ask
    withdrawn = await portal.submit(ask, action="/faktury/e-faktura/wycofanie")
    assert withdrawn.path == "/faktury/e-faktura", withdrawn
    assert "zgoda wycofana" in withdrawn.text and "wycofanie zgody" in withdrawn.text
    state = expect(await api.get("/me/e-invoice", token=await mp.token(api, customer)), 200)
    assert state["status"] == "withdrawn"


# -- contracts ----------------------------------------------------------------------------------


async def test_contracts_list_detail_and_document(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await _signed_in(portal, stack, api, workdir)
    page = await portal.get("/umowy")
    assert page.status == 200 and page.h1 == "Umowy", page
    assert page.title == "Umowy – e-BOK MPWiK"
    rows = mp.rows(page, "lista-umow")
    assert len(rows) == 1
    assert rows[0][0].endswith(customer.contract_number)
    assert rows[0][2] == "01.03.2021" and rows[0][3] == "obowiązująca"
    detail_link = f"/umowy/{customer.contract_number}"
    assert detail_link in page.links()

    detail = await portal.get(detail_link)
    assert detail.status == 200, detail
    assert detail.h1 == f"Umowa {customer.contract_number}"
    assert "1 marca 2021" in detail.text and customer.meter in detail.text
    assert "G1" in detail.text

    encoded = await portal.get(detail_link.replace("/", "%2F").replace("%2Fumowy%2F", "/umowy/"))
    assert encoded.status == 200 and encoded.h1 == detail.h1, encoded

    pdf = await portal.get(f"{detail_link}/dokument")
    assert pdf.status == 200, pdf
    assert pdf.headers["Content-Type"].startswith("application/pdf")
    assert pdf.body.startswith(b"%PDF")
    assert "attachment" in pdf.headers["Content-Disposition"]
