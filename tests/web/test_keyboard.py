"""The main journey with the keyboard alone: the skip link first, the sign-in form filled and
sent without a mouse, its errors reached from the summary, focus always visible, no trap.
(Every page's Tab walk is in test_accessibility.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page

from tests.e2e.journeys import CUSTOMER_PASSWORD
from tests.e2e.stack import Stack

from .browser import (  # noqa: F401  (stack: the browser modules' shared one)
    BrowserCustomers,
    Browsing,
    Stop,
    check_keyboard_walk,
    focused,
    shared_stack,
    signed_in_state,
)

SKIP_LINK = "Przejdź do treści"


async def tab_to(page: Page, selector: str, limit: int = 40) -> list[Stop]:
    """Tab until the element has focus; the stops on the way (it last)."""
    stops = []
    for _ in range(limit):
        await page.keyboard.press("Tab")
        stops.append(await focused(page))
        if await page.evaluate("s => document.activeElement.matches(s)", selector):
            return stops
    raise AssertionError(f"{selector} not reached with Tab: {[s.label for s in stops]}")


async def check_skip_link(page: Page) -> None:
    await page.keyboard.press("Tab")
    first = await focused(page)
    assert SKIP_LINK in first.label and first.visible, f"first Tab stop: {first}"
    box = await page.locator(".skip-link").bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0, f"the focused skip link is off-screen: {box}"
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "tresc", await focused(page)
    # The next stop is in the content (or after it, on a page with nothing to focus in it),
    # not back in the header.
    await page.keyboard.press("Tab")
    onwards = await page.evaluate(
        "document.getElementById('tresc').compareDocumentPosition(document.activeElement)"
        " & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    assert onwards, f"after the skip link Tab goes back: {await focused(page)}"


@pytest.fixture(scope="module")
async def signed_in(
    browser: Browser, browser_stack: Stack, browser_customers: BrowserCustomers
) -> Any:
    login = browser_customers.ready.client_number
    return await signed_in_state(browser, browser_stack.portal_url, login)


async def test_skip_link_is_the_first_stop_and_moves_focus_to_the_content(
    browsing: Browsing, signed_in: Any
) -> None:
    for path, state in (("/", None), ("/pulpit", signed_in), ("/kontakt", signed_in)):
        page = await browsing.page(storage_state=state)
        await page.goto(path)
        await check_skip_link(page)


async def test_customer_signs_in_with_the_keyboard_alone(
    browsing: Browsing, browser_customers: BrowserCustomers
) -> None:
    page = await browsing.page()
    await page.goto("/")
    await check_keyboard_walk(page, "the sign-in page")

    await page.goto("/")
    on_the_way = await tab_to(page, "#login")
    assert len(on_the_way) <= 4, f"the sign-in form is far down the Tab order: {on_the_way}"
    assert all(stop.visible for stop in on_the_way), on_the_way
    await page.keyboard.type(browser_customers.ready.client_number)
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "password"
    await page.keyboard.type(CUSTOMER_PASSWORD)
    await page.keyboard.press("Tab")
    button = await focused(page)
    assert "Zaloguj się" in button.label and button.visible, button
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert page.url.endswith("/pulpit"), page.url
    assert await page.locator("h1").inner_text() == "Pulpit"

    await check_keyboard_walk(page, "the dashboard")
    await page.goto("/pulpit")
    signout = (await tab_to(page, ".signout button"))[-1]
    assert signout.visible, signout
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert "Wylogowano" in await page.locator("main").inner_text()


async def test_errors_of_the_sign_in_form_are_reached_from_the_summary(
    browsing: Browsing,
) -> None:
    page = await browsing.page()
    await page.goto("/")
    await tab_to(page, "#login")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")  # sent empty from the field, as a keyboard user may
    summary = page.locator(".error-summary")
    assert await summary.is_visible()
    # ebok.js gives the summary the focus, so it is read first; Tab goes to its first link.
    assert await page.evaluate("document.activeElement.classList.contains('error-summary')")
    await page.keyboard.press("Tab")
    link = await focused(page)
    assert link.href == "#login" and link.visible, link
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "login"
    await page.keyboard.type("123456")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "password"
