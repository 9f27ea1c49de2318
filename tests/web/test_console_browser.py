"""The operator console in a real browser (Debian's Chromium): every console page in its
states with axe (WCAG 2.0/2.1 A and AA) at 360 and 1280 px, no horizontal scroll at 320 px
and at 200 % zoom, a Tab walk, the same state without JavaScript, and screenshots under
var/screenshots/<width>/konsola-*.png; then an operator's day as one journey."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from playwright.async_api import Browser, Page

from tests.e2e.client import Api, expect
from tests.e2e.data import Customer
from tests.e2e.journeys import Session
from tests.e2e.mail import subject_has, wait_for_mail
from tests.e2e.stack import Stack

from .browser import (  # noqa: F401  (stack: the browser modules' shared one)
    DESKTOP,
    Browsing,
    screenshot,
    shared_stack,
    sign_in,
)
from .console import (
    ALL_ROLES,
    Operator,
    new_admin,
    new_operator,
    operator_token,
    ready,
)
from .signed_in import onboarded
from .test_accessibility import Visit, check_page

TODAY = dt.date.today()


@dataclass
class Things:
    """What the console's pages show: a customer with a case, a garden-meter request and a
    reading to verify; and operators with every role and with customer service only."""

    staff: Operator
    clerk: Operator
    customer: Customer
    session: Session
    case_id: str
    garden_id: str
    reading_id: str

    def names(self) -> dict[str, str]:
        return {
            "case": self.case_id,
            "garden": self.garden_id,
            "reading": self.reading_id,
            "serial": self.customer.meter,
            "client": self.customer.client_number,
            "clerk": self.clerk.login,
        }


async def customer_with_work(
    api: Api, running: Stack, workdir: Path
) -> tuple[Customer, Session, str, str, str]:
    """A customer who sent a complaint, asked for a garden meter and gave an unusual
    reading (through the API): the case's, the request's and the reading's ids."""
    customer, session = await onboarded(running, workdir)
    token = session.access
    case = expect(
        await api.post(
            "/me/correspondence",
            token=token,
            json={
                "kind": "reklamacja",
                "invoice_number": customer.invoice_number,
                "reason": "Kwota na fakturze jest dwa razy wyższa niż zwykle.",
            },
            idempotent=True,
        ),
        201,
    )
    garden = expect(
        await api.post(
            "/me/garden-meter-requests",
            token=token,
            json={
                "kind": "installation",
                "done_on": TODAY.isoformat(),
                "contract_number": customer.contract_number,
                "new_serial": f"WG-{customer.client_number}-1",
                "initial_value": "0.000",
                "seal_number": "PL-2026/001",
            },
            idempotent=True,
        ),
        201,
    )
    readings = f"/me/meters/{quote(customer.meter)}/readings"
    earlier = {"value": "100", "read_on": (TODAY - dt.timedelta(days=10)).isoformat()}
    expect(await api.post(readings, token=token, json=earlier, idempotent=True), 201)
    unusual = {"value": "5000", "read_on": TODAY.isoformat(), "confirm_unusual": True}
    reading = expect(await api.post(readings, token=token, json=unusual, idempotent=True), 201)
    assert reading["status"] == "to_verify", reading
    return customer, session, str(case["id"]), str(garden["id"]), str(reading["id"])


@pytest.fixture(scope="module")
async def things(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Things:
    workdir = tmp_path_factory.mktemp("console-browser")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        api = Api(http, stack.api)
        admin = await ready(api, await new_admin(stack))
        token = await operator_token(api, admin)
        staff = await ready(api, await new_operator(api, token, ALL_ROLES))
        clerk = await ready(api, await new_operator(api, token, ["customer_service"]))
        customer, session, case_id, garden_id, reading_id = await customer_with_work(
            api, stack, workdir
        )
    return Things(staff, clerk, customer, session, case_id, garden_id, reading_id)


async def console_sign_in(page: Page, operator: Operator) -> None:
    """Through the console's form, as an operator would (with JavaScript on or off)."""
    await page.goto("/operator/logowanie")
    await page.fill("#login", operator.login)
    await page.fill("#password", operator.password)
    await page.fill("#totp_code", await operator.code())
    async with page.expect_navigation():
        await page.click("form[action='/operator/logowanie'] button[type=submit]")


async def console_state(browser: Browser, base_url: str, operator: Operator) -> Any:
    pages = Browsing(browser, base_url)
    try:
        page = await pages.page()
        await console_sign_in(page, operator)
        assert page.url.endswith("/operator"), page.url
        state = await page.context.storage_state()
    finally:
        await pages.close()
    assert any(c["name"] == "__Host-ebok-operator" for c in state["cookies"]), state
    return state


@pytest.fixture(scope="module")
async def staff_state(browser: Browser, stack: Stack, things: Things) -> Any:
    return await console_state(browser, stack.portal_url, things.staff)


@pytest.fixture(scope="module")
async def clerk_state(browser: Browser, stack: Stack, things: Things) -> Any:
    return await console_state(browser, stack.portal_url, things.clerk)


# Nobody signed in.
SIGN_IN_PAGES = [
    Visit("/operator/logowanie", "konsola-logowanie"),
    Visit("/operator/logowanie", "konsola-logowanie-bledy", 422, submit="/operator/logowanie"),
]
# An operator with every role. {case}, {garden}, {reading}, {serial}, {client}: the things'.
STAFF_PAGES = [
    Visit("/operator", "konsola-start"),
    Visit("/operator/nie-ma-takiej-strony", "konsola-404", 404),
    Visit("/operator/haslo", "konsola-haslo"),
    Visit("/operator/haslo", "konsola-haslo-bledy", 422, submit="/operator/haslo"),
    Visit("/operator/sprawy", "konsola-sprawy"),
    Visit("/operator/sprawy/{case}", "konsola-sprawa"),
    Visit(
        "/operator/sprawy/{case}",
        "konsola-sprawa-bledy",
        422,
        submit="/operator/sprawy/{case}/odpowiedz",
    ),
    Visit("/operator/wodomierze-ogrodowe", "konsola-wodomierze"),
    Visit("/operator/wodomierze-ogrodowe/{garden}", "konsola-wodomierz"),
    Visit(
        "/operator/wodomierze-ogrodowe/{garden}",
        "konsola-wodomierz-bledy",
        422,
        submit="/operator/wodomierze-ogrodowe/{garden}",
    ),
    Visit("/operator/odczyty", "konsola-odczyty"),
    Visit("/operator/odczyty/{serial}/{reading}", "konsola-odczyt"),
    Visit(
        "/operator/odczyty/{serial}/{reading}",
        "konsola-odczyt-bledy",
        422,
        submit="/operator/odczyty/{serial}/{reading}",
    ),
    Visit("/operator/konta?q={client}", "konsola-konta"),
    Visit("/operator/konta/{client}", "konsola-konto"),
    Visit(
        "/operator/konta/{client}",
        "konsola-konto-bledy",
        422,
        submit="/operator/konta/{client}/blokada",
    ),
    Visit("/operator/dziennik", "konsola-dziennik"),
    Visit("/operator/regulamin", "konsola-regulamin"),
    Visit("/operator/portal", "konsola-portal"),
    Visit("/operator/portal", "konsola-portal-bledy", 422, submit="/operator/portal/pozycje"),
    Visit("/operator/wiadomosci?status=sent", "konsola-emaile"),
    Visit("/operator/zasilenia", "konsola-zasilenia"),
    Visit("/operator/zasilenia", "konsola-zasilenia-bledy", 422, submit="/operator/zasilenia"),
    Visit("/operator/stawki", "konsola-stawki"),
    Visit("/operator/stawki", "konsola-stawki-bledy", 422, submit="/operator/stawki/eur"),
    Visit("/operator/platnosci", "konsola-platnosci"),
    Visit("/operator/pracownicy", "konsola-pracownicy"),
    Visit("/operator/pracownicy", "konsola-pracownicy-bledy", 422, submit="/operator/pracownicy"),
    Visit("/operator/pracownicy/{clerk}", "konsola-pracownik"),
    Visit(
        "/operator/pracownicy/{clerk}",
        "konsola-pracownik-bledy",
        422,
        submit="/operator/pracownicy/{clerk}/role",
    ),
    Visit("/operator/martwe-wiadomosci?service=readings", "konsola-martwe-wiadomosci"),
]
# An operator of customer service only: the admin's page refused, naming the role.
CLERK_PAGES = [Visit("/operator/pracownicy", "konsola-brak-uprawnien", 403)]


def _name(visit: Visit) -> str:
    return visit.name


@pytest.mark.parametrize("visit", SIGN_IN_PAGES, ids=_name)
async def test_console_sign_in_page(browsing: Browsing, visit: Visit) -> None:
    await check_page(browsing, visit)


@pytest.mark.parametrize("visit", STAFF_PAGES, ids=_name)
async def test_console_page(
    browsing: Browsing, staff_state: Any, things: Things, visit: Visit
) -> None:
    await check_page(browsing, visit, staff_state, things.names())


@pytest.mark.parametrize("visit", CLERK_PAGES, ids=_name)
async def test_console_page_refused(browsing: Browsing, clerk_state: Any, visit: Visit) -> None:
    await check_page(browsing, visit, clerk_state)


# -- an operator's day ---------------------------------------------------------------------------


async def _submit(page: Page, form: str, button: str | None = None) -> None:
    async with page.expect_navigation():
        target = f"main form[action='{form}'] button[type=submit]"
        if button:
            target += f"[value='{button}']"
        await page.click(target)


async def _flash(page: Page) -> str:
    return " ".join(await page.locator("main .notice--success").all_inner_texts())


async def test_an_operators_day(
    browsing: Browsing,
    stack: Stack,
    api: Api,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Sign in with TOTP; take a case and reply (the customer sees it in the portal and gets
    the e-mail); decide a garden-meter request; verify a reading; hide an invoice; block the
    account while its customer is signed in (their next page load is refused); publish new
    terms and watch their campaign reach the customer in the SMTP sink."""
    workdir = tmp_path_factory.mktemp("operators-day")
    admin = await ready(api, await new_admin(stack))
    operator = await new_operator(api, await operator_token(api, admin), ALL_ROLES)
    customer, session, case_id, garden_id, reading_id = await customer_with_work(
        api, stack, workdir
    )

    customer_page = await browsing.page(DESKTOP)
    await sign_in(customer_page, customer.client_number)
    assert customer_page.url.endswith("/pulpit"), customer_page.url

    # Signing in: password, then the code (always); the first time, an own password.
    console = await browsing.page(DESKTOP)
    await console_sign_in(console, operator)
    assert console.url.endswith("/operator/haslo"), console.url
    await screenshot(console, "dzien-haslo")
    initial = operator.password
    await console.fill("#current_password", initial)
    await console.fill("#new_password", "Szafa-Zaworow-77")
    await console.fill("#new_password_repeat", "Szafa-Zaworow-77")
    await _submit(console, "/operator/haslo")
    operator.password = "Szafa-Zaworow-77"
    assert console.url.endswith("/operator"), console.url
    await screenshot(console, "dzien-start")

    # The case: from the queue, taken, answered.
    async with console.expect_navigation():
        await console.click("nav >> text=Sprawy")
    async with console.expect_navigation():
        await console.click(f"a[href='/operator/sprawy/{case_id}']")
    await _submit(console, f"/operator/sprawy/{case_id}/przydziel")
    assert "przydzielona Tobie" in await _flash(console)
    answer = "Sprawdziliśmy odczyty: faktura jest poprawna, zużycie wzrosło w lipcu."
    await console.fill("#reply_body", answer)
    await _submit(console, f"/operator/sprawy/{case_id}/odpowiedz")
    assert "Odpowiedź wysłana" in await _flash(console)
    await screenshot(console, "dzien-sprawa")
    await customer_page.goto(f"/korespondencja/{case_id}")
    assert answer in await customer_page.inner_text("main")
    number = (await console.inner_text("h1")).rsplit(" ", 1)[-1]
    await wait_for_mail(stack.maildir, customer.email, subject_has(f"sprawie nr {number}"))

    # The garden-meter request: accepted.
    await console.goto(f"/operator/wodomierze-ogrodowe/{garden_id}")
    await console.check("#decision")  # the first choice: accept
    await _submit(console, f"/operator/wodomierze-ogrodowe/{garden_id}")
    assert "przyjęte" in await _flash(console)

    # The reading: its photo and history looked at, rejected with a reason.
    reading_path = f"/operator/odczyty/{quote(customer.meter, safe='')}/{reading_id}"
    await console.goto(reading_path)
    assert "(ten odczyt)" in await console.inner_text("main table")
    await console.check("#decision-2")  # reject
    await console.fill("#reason", "Stan niemożliwy przy tym zużyciu; prosimy o zdjęcie.")
    await _submit(console, reading_path)
    assert "odrzucone" in await _flash(console)
    mine = expect(
        await api.get(f"/me/meters/{quote(customer.meter)}/readings", token=session.access),
        200,
    )["items"]
    assert [r["status"] for r in mine if r["id"] == reading_id] == ["rejected"]

    # An invoice hidden from the customer (terms IV.1).
    await console.goto("/operator/portal")
    await console.select_option("#item_section", "invoices")
    await console.fill("#item_id", customer.invoice_number)
    await _submit(console, "/operator/portal/pozycje")
    assert customer.invoice_number in await _flash(console)
    await customer_page.goto("/faktury")
    assert customer.invoice_number not in await customer_page.inner_text("main")

    # The account blocked while its customer is signed in: the next page load is refused.
    await console.goto(f"/operator/konta/{customer.client_number}")
    await console.fill("#block_reason", "Naruszenie pkt IV.3 Regulaminu (test).")
    await _submit(console, f"/operator/konta/{customer.client_number}/blokada")
    blocked_at = time.monotonic()
    await customer_page.goto("/pulpit")
    refused_in = time.monotonic() - blocked_at
    assert "/logowanie" in customer_page.url, customer_page.url
    assert refused_in < 1.0, f"the blocked customer's page load took {refused_in:.2f} s"
    await screenshot(console, "dzien-konto-zablokowane")
    await console.fill("#unblock_reason", "Wyjaśnione z klientem.")
    await _submit(console, f"/operator/konta/{customer.client_number}/odblokowanie")

    # New terms: previewed, published with the notice period; the campaign reaches the
    # customer in the SMTP sink and the console shows it done.
    await console.goto("/operator/regulamin")
    body = await console.input_value("#body")
    await console.fill("#body", body + "\n\nVI. Postanowienia dodatkowe\n1. Nowy punkt testowy.\n")
    await console.fill("#summary", "Nowy rozdział VI.")
    await _submit(console, "/operator/regulamin", "preview")
    # Auth's preview: the new section's title and its clause, each in its own comparison.
    assert "Nowy punkt testowy." in " ".join(await console.locator(".compare").all_inner_texts())
    await screenshot(console, "dzien-regulamin-podglad")
    await _submit(console, "/operator/regulamin", "publish")
    assert "Opublikowano wersję" in await _flash(console)
    await wait_for_mail(
        stack.maildir, customer.email, subject_has("Zmiana Regulaminu e-BOK"), within=60
    )
    for _ in range(30):
        await console.goto("/operator/regulamin")
        first = console.locator("#campaigns-heading + .table-wrap tbody tr").first
        if "zakończona" in await first.inner_text():
            break
        await asyncio.sleep(1)
    assert "zakończona" in await first.inner_text()
    await screenshot(console, "dzien-regulamin-kampania")
