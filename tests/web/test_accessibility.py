"""Every page in each of its states, in a real browser: axe (WCAG 2.0/2.1 A and AA) with zero
violations at 360 and 1280 px, no horizontal scroll at 320 px and at 200 % zoom (and at 360 and
1280 px too), list tables as one card per row at 320 and 360 px, a Tab walk (visible focus,
reading order, no trap), the same state reached with JavaScript off, and full-page screenshots
under var/screenshots/<width>/ (640: 200 % zoom).

Adding a page is one line in a list below: ``Visit(path, screenshot name)``, with the status it
answers with and, for a form's state with errors, the form's action to submit it empty."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

import pytest
from playwright.async_api import Browser, Page

from tests.e2e.data import Customer
from tests.e2e.stack import Stack

from .browser import (  # noqa: F401  (stack: the browser modules' shared one)
    DESKTOP,
    NARROWEST,
    PHONE,
    ZOOM_200,
    BrowserCustomers,
    Browsing,
    Display,
    check_axe,
    check_keyboard_walk,
    no_horizontal_scroll,
    screenshot,
    shared_stack,
    signed_in_state,
    stacked_tables_fit,
)


class Visit(NamedTuple):
    path: str  # opened first
    name: str  # the screenshot's file name (unique)
    status: int = 200  # what the page (or the submitted form) answers with
    submit: str | None = None  # then the form with this action is sent as it stands (empty)
    spoil_token: bool = False  # … with its CSRF token spoiled (the "form expired" page)


# Nobody signed in.
PUBLIC_PAGES = [
    Visit("/", "logowanie"),
    Visit("/", "logowanie-bledy", 422, submit="/logowanie"),
    Visit("/kontakt", "kontakt"),
    Visit("/deklaracja-dostepnosci", "deklaracja-dostepnosci"),
    Visit("/nie-ma-takiej-strony", "404", 404),
    Visit("/", "formularz-wygasl", 403, submit="/logowanie", spoil_token=True),
    Visit("/rejestracja", "rejestracja"),
    Visit("/rejestracja", "rejestracja-bledy", 422, submit="/rejestracja"),
    Visit("/haslo/reset", "haslo-reset"),
    Visit("/haslo/reset", "haslo-reset-bledy", 422, submit="/haslo/reset"),
    Visit("/aktywacja?token=nieprawidlowy-token-0123456789", "aktywacja"),
    Visit("/haslo/nowe?token=nieprawidlowy-token-0123456789", "haslo-nowe"),
    Visit("/konto/email/potwierdz?token=nieprawidlowy-token-0123456789", "email-potwierdz"),
    Visit("/regulamin", "regulamin"),
]
# Half-way through a sign-in with two-step login: the password accepted, the code asked for.
SIGN_IN_STEP_PAGES = [
    Visit("/logowanie/kod", "kod"),
    Visit("/logowanie/kod", "kod-bledy", 422, submit="/logowanie/kod"),
]
# A signed-in customer. A path (and submit) may name the customer's things: {invoice} (the latest
# invoice's number), {contract}, {meter}; e.g. Visit("/faktury/{invoice}", "faktura").
CUSTOMER_PAGES = [
    Visit("/pulpit", "pulpit"),
    Visit("/nie-ma-takiej-strony", "404-zalogowany", 404),
    Visit("/zuzycie", "zuzycie"),
    Visit("/faktury", "faktury"),
    Visit("/faktury/{invoice}", "faktura"),
    Visit("/saldo", "saldo"),
    Visit("/platnosci", "platnosci"),
    Visit("/platnosci/wybor", "platnosci-wybor"),
    Visit("/platnosci/wybor", "platnosci-wybor-bledy", 422, submit="/platnosci"),
    Visit("/noty-odsetkowe", "noty-odsetkowe"),
    Visit("/faktury/e-faktura", "e-faktura"),
    Visit("/faktury/e-faktura", "e-faktura-bledy", 422, submit="/faktury/e-faktura"),
    Visit("/umowy", "umowy"),
    Visit("/umowy/{contract}", "umowa"),
    Visit("/konto", "konto"),
    Visit("/konto/email", "konto-email"),
    Visit("/konto/email", "konto-email-bledy", 422, submit="/konto/email"),
    Visit("/konto/haslo", "konto-haslo"),
    Visit("/konto/haslo", "konto-haslo-bledy", 422, submit="/konto/haslo"),
    Visit("/konto/dwuetapowe", "konto-dwuetapowe"),
    Visit("/konto/eksport", "konto-eksport"),
    Visit("/konto/usuniecie", "konto-usuniecie"),
    Visit("/odczyty", "odczyty"),
    Visit("/odczyty/{meter}", "odczyty-wodomierz"),
    Visit("/odczyty/{meter}", "odczyty-wodomierz-bledy", 422, submit="/odczyty/{meter}"),
    Visit("/wodomierze", "wodomierze"),
    Visit("/wodomierze/montaz", "wodomierze-montaz"),
    Visit("/wodomierze/montaz", "wodomierze-montaz-bledy", 422, submit="/wodomierze/montaz"),
    Visit("/korespondencja", "korespondencja"),
    Visit("/korespondencja/nowa", "korespondencja-nowa"),
    Visit("/korespondencja/nowa/awaria", "korespondencja-awaria"),
    Visit(
        "/korespondencja/nowa/awaria",
        "korespondencja-awaria-bledy",
        422,
        submit="/korespondencja/nowa/awaria",
    ),
]

AXE_DISPLAYS = (PHONE, DESKTOP)
# One page resized through these (one load of the state): the Tab walk at the last one.
RESIZED = (PHONE, NARROWEST, Display(ZOOM_200.width, ZOOM_200.height), DESKTOP)


def _name(visit: Visit) -> str:
    return visit.name


def things_of(customer: Customer) -> dict[str, str]:
    found = {"invoice": customer.invoice_number, "contract": customer.contract_number}
    return {**found, "meter": customer.meter}


def resolved(visit: Visit, things: Mapping[str, str]) -> Visit:
    values = {name: quote(value, safe="") for name, value in things.items()}
    submit = visit.submit.format_map(values) if visit.submit else None
    return visit._replace(path=visit.path.format_map(values), submit=submit)


async def open_visit(page: Page, visit: Visit) -> None:
    """Bring the page to the visit's state and check it got there (status, address, one h1)."""
    response = await page.goto(visit.path)
    if visit.submit:
        form = page.locator(f"main form[action='{visit.submit}']")
        if visit.spoil_token:
            await form.locator("input[name=csrf]").evaluate("field => field.value = 'zepsuty'")
        async with page.expect_navigation() as navigation:
            await form.locator("button[type=submit]").first.click()
        response = await navigation.value
    expected_path = urlsplit(visit.submit or visit.path).path
    assert response is not None and response.status == visit.status, (
        f"{visit.name}: {response and response.status} at {page.url}, not {visit.status}"
    )
    assert urlsplit(page.url).path == expected_path, f"{visit.name}: ended at {page.url}"
    assert await page.locator("h1").count() == 1, f"{visit.name}: not one h1"
    if visit.submit and not visit.spoil_token:
        assert await page.locator(".error-summary").is_visible(), f"{visit.name}: no errors"


async def check_page(
    browsing: Browsing, visit: Visit, state: Any = None, things: Mapping[str, str] | None = None
) -> None:
    visit = resolved(visit, things or {})
    page = await browsing.page(RESIZED[0], storage_state=state)
    await open_visit(page, visit)
    for display in RESIZED:
        await page.set_viewport_size({"width": display.width, "height": display.height})
        what = f"{visit.name} ({visit.path}) at {display.width} px"
        if display in AXE_DISPLAYS:
            await check_axe(page, what)
        await no_horizontal_scroll(page, what)
        if display.width <= PHONE.width:
            await stacked_tables_fit(page, what)
        if display.width != ZOOM_200.width:  # its screenshot comes from the zoomed window
            await screenshot(page, visit.name)
    await check_keyboard_walk(page, visit.name)
    # 200 % zoom in a window of its own (two device pixels per CSS pixel, as zoom does), with
    # JavaScript off: the state must be reached without it too (every page works without JS).
    zoomed = await browsing.page(ZOOM_200, javascript=False, storage_state=state)
    await open_visit(zoomed, visit)
    await no_horizontal_scroll(zoomed, f"{visit.name} at 200 % zoom without JavaScript")
    await screenshot(zoomed, visit.name)


# -- who looks ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
async def signed_in(
    browser: Browser, browser_stack: Stack, browser_customers: BrowserCustomers
) -> Any:
    """A customer's browser state after signing in through the real form."""
    login = browser_customers.ready.client_number
    return await signed_in_state(browser, browser_stack.portal_url, login)


@pytest.fixture
async def code_asked(
    browser: Browser, browser_stack: Stack, browser_customers: BrowserCustomers
) -> Any:
    """The password step done (the code step waits five minutes on the server)."""
    login = browser_customers.two_step.client_number
    return await signed_in_state(browser, browser_stack.portal_url, login)


# -- the checks -----------------------------------------------------------------------------------
@pytest.mark.parametrize("visit", PUBLIC_PAGES, ids=_name)
async def test_public_page(browsing: Browsing, visit: Visit) -> None:
    await check_page(browsing, visit)


@pytest.mark.parametrize("visit", SIGN_IN_STEP_PAGES, ids=_name)
async def test_sign_in_step_page(browsing: Browsing, code_asked: Any, visit: Visit) -> None:
    await check_page(browsing, visit, code_asked)


@pytest.mark.parametrize("visit", CUSTOMER_PAGES, ids=_name)
async def test_customer_page(
    browsing: Browsing, signed_in: Any, browser_customers: BrowserCustomers, visit: Visit
) -> None:
    await check_page(browsing, visit, signed_in, things_of(browser_customers.ready))


def test_every_screenshot_has_its_own_name() -> None:
    names = [v.name for v in (*PUBLIC_PAGES, *SIGN_IN_STEP_PAGES, *CUSTOMER_PAGES)]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_a_path_may_name_the_customers_things() -> None:
    visit = Visit("/faktury/{invoice}", "faktura", submit="/faktury/{invoice}/pdf")
    found = resolved(visit, {"invoice": "F/1 2", "meter": "WM-1"})
    assert (found.path, found.submit) == ("/faktury/F%2F1%202", "/faktury/F%2F1%202/pdf")
