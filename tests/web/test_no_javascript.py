"""The portal with JavaScript disabled in the browser: a customer signs in (with and without
the two-step code), reaches the dashboard and signs out; the sign-in errors show. (Every page's
state without JavaScript is also reached in test_accessibility.py.)"""

from __future__ import annotations

import time

import pyotp
from playwright.async_api import Page

from .browser import (  # noqa: F401  (stack: the browser modules' shared one)
    BrowserCustomers,
    Browsing,
    shared_stack,
    sign_in,
)


async def no_script_ran(page: Page) -> None:
    # ebok.js focuses an error summary; with scripts off nothing has the focus.
    assert await page.evaluate("document.activeElement === document.body")


async def test_customer_signs_in_reaches_the_dashboard_and_signs_out(
    browsing: Browsing, browser_customers: BrowserCustomers
) -> None:
    page = await browsing.page(javascript=False)
    login = browser_customers.ready.client_number
    await sign_in(page, login)
    assert page.url.endswith("/pulpit"), page.url
    assert await page.locator("h1").inner_text() == "Pulpit"
    assert f"Klient nr {login}" in await page.locator("header").inner_text()
    await page.goto("/kontakt")  # the session holds from page to page
    assert await page.get_by_role("navigation", name="Menu główne").is_visible()

    async with page.expect_navigation():
        await page.get_by_role("button", name="Wyloguj").click()
    assert "Wylogowano" in await page.locator("main").inner_text()
    await page.goto("/pulpit")
    assert "/logowanie" in page.url, page.url


async def test_sign_in_errors_show_with_the_values_kept(
    browsing: Browsing, browser_customers: BrowserCustomers
) -> None:
    page = await browsing.page(javascript=False)
    await page.goto("/")
    async with page.expect_navigation() as navigation:
        await page.get_by_role("button", name="Zaloguj się").click()
    response = await navigation.value
    assert response is not None and response.status == 422, response
    await no_script_ran(page)
    summary = page.locator(".error-summary")
    assert await summary.is_visible()
    links = await summary.locator("a").evaluate_all("a => a.map(l => l.getAttribute('href'))")
    assert links == ["#login", "#password"], links
    assert "Wpisz numer klienta." in await page.locator("#login-error").inner_text()
    assert "Wpisz hasło." in await page.locator("#password-error").inner_text()
    assert await page.locator("#login").get_attribute("aria-invalid") == "true"

    login = browser_customers.ready.client_number
    await sign_in(page, login, "Nie-To-Haslo-1")
    assert page.url.endswith("/logowanie"), page.url
    assert await summary.is_visible()
    assert await page.locator("#login").input_value() == login
    assert await page.locator("#password").input_value() == ""


async def test_two_step_sign_in_with_the_code_without_javascript(
    browsing: Browsing, browser_customers: BrowserCustomers
) -> None:
    page = await browsing.page(javascript=False)
    await sign_in(page, browser_customers.two_step.client_number)
    assert page.url.endswith("/logowanie/kod"), page.url

    async with page.expect_navigation():
        await page.get_by_role("button", name="Zaloguj się").click()
    assert "Wpisz kod z aplikacji" in await page.locator("#totp_code-error").inner_text()

    # The next step's code (accepted for clock drift): the current one may be the code that
    # turned two-step login on, and a code is good once.
    code = pyotp.TOTP(browser_customers.totp_secret).at(time.time() + 30)
    await page.fill("#totp_code", code)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Zaloguj się").click()
    assert page.url.endswith("/pulpit"), page.url
    assert await page.locator("h1").inner_text() == "Pulpit"
