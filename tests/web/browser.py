"""Real-browser checks: Playwright (async API) driving Debian's Chromium, never Playwright's
own download (no internet here; ``make test`` installs ``chromium`` with apt).

Fixtures: ``browser`` (one Chromium per test session), ``browser_stack`` (one stack shared by
every browser module and most page modules; such a module overrides ``stack`` with
``from .browser import shared_stack``),
``browser_customers`` (made once for them all) and ``browsing`` (pages at a ``Display``, with
JavaScript on or off, closed after the test). Helpers: ``check_axe``, ``no_horizontal_scroll``,
``stacked_tables_fit``, ``screenshot``, ``check_keyboard_walk``, ``sign_in``, ``signed_in_state``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright

from tests.e2e.client import Api
from tests.e2e.data import Customer
from tests.e2e.journeys import CUSTOMER_PASSWORD
from tests.e2e.stack import Stack, running_stack
from tests.support.infra import Services

from .customers import ready_customer, two_step_customer

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "var" / "screenshots"  # git-ignored (/var/), for people to look at
# WCAG 2.0 and 2.1, levels A and AA: the legal bar (the 2019 act on digital accessibility).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_TIMEOUT = 60.0


@dataclass(frozen=True)
class Display:
    """A browser window: CSS pixels of the layout viewport and the device pixel ratio."""

    width: int
    height: int = 800
    scale: float = 1


PHONE = Display(360)
DESKTOP = Display(1280)
NARROWEST = Display(320)  # WCAG 1.4.10 reflow: 320 CSS px wide (1280 px at 400 %)
# 200 % browser zoom of a 1280×800 window, as Chromium does it: every CSS pixel takes two device
# pixels, so the page lays out in 640×400 CSS px with media queries for 640 px and a device
# pixel ratio of 2. CSS `zoom: 2` on <html> would not be the same: media queries, vw and the
# viewport would still see 1280 px, hiding exactly the reflow problems zoom causes.
ZOOM_200 = Display(640, 400, scale=2)


# -- the browser ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
async def playwright_driver() -> AsyncIterator[Playwright]:
    async with async_playwright() as driver:
        yield driver


def require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (`make browser`, or as root "
            "`apt-get install chromium`). Playwright's own browser download is not used."
        )


@pytest.fixture(scope="session")
async def browser(playwright_driver: Playwright) -> AsyncIterator[Browser]:
    require_chromium()
    # Headless; Playwright adds --no-sandbox itself (chromium_sandbox=False), which Chromium
    # needs when it runs as root, as it does in this sandbox and in CI containers.
    launched = await playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, chromium_sandbox=False
    )
    yield launched
    await launched.close()


# -- one stack for the browser modules and most page modules ---------------------------------------
@pytest.fixture(scope="package")
async def browser_stack(
    services: Services, amqp_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """Browser modules read pages and sign in the customers below; the page modules that
    import ``stack`` from here make customers of their own, each browsing from an address of
    its own (``portal.person_address``), and put back whatever they switch or stop before
    they end. None changes anything another module relies on, so they share one stack: one
    start-up (about 19 s CPU: some twenty Python processes) instead of one per module, on
    each test worker that runs them. Modules that leave the stack changed keep their own
    (test_account and test_console_pages publish regulations). Answers are checked against
    the services' contracts, as on tests/e2e's stacks."""
    workdir = tmp_path_factory.mktemp("browser-stack")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("EBOK_CHECK_ANSWERS", "1")
        async with running_stack(services.pg_admin_dsn, amqp_url, workdir) as running:
            yield running


@dataclass(frozen=True)
class BrowserCustomers:
    ready: Customer  # signs in with CUSTOMER_PASSWORD
    two_step: Customer  # … then a code of pyotp.TOTP(totp_secret), each good once
    totp_secret: str


@pytest.fixture(scope="package")
async def browser_customers(
    browser_stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> BrowserCustomers:
    """Customers of the shared stack, made once (through the API) for every browser module;
    the tests only sign them in, so they can share them."""
    workdir = tmp_path_factory.mktemp("browser-customers")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        api = Api(http, browser_stack.api)
        ready, (two_step, secret) = await asyncio.gather(
            ready_customer(browser_stack, api, workdir),
            two_step_customer(browser_stack, api, workdir),
        )
    return BrowserCustomers(ready, two_step, secret)


@pytest.fixture(scope="module", name="stack")
def shared_stack(browser_stack: Stack) -> Stack:
    """Imported by a browser or page module (``from .browser import shared_stack``): its
    fixture ``stack`` (and so ``api``, ``portal``) is the shared one. Named apart so that the
    module's tests can still take ``stack: Stack``."""
    return browser_stack


@dataclass
class Browsing:
    """Opens pages of the portal in fresh browser contexts (own cookies) and closes them."""

    browser: Browser
    base_url: str
    contexts: list[BrowserContext] = field(default_factory=list)

    async def page(
        self,
        display: Display = DESKTOP,
        *,
        javascript: bool = True,
        storage_state: Any = None,
    ) -> Page:
        """A new tab in a new context; ``storage_state`` (from ``context.storage_state()``)
        carries a signed-in session over."""
        context = await self.browser.new_context(
            base_url=self.base_url,
            viewport={"width": display.width, "height": display.height},
            device_scale_factor=display.scale,
            java_script_enabled=javascript,
            locale="pl-PL",
            storage_state=storage_state,
        )
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        return await context.new_page()

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()
        self.contexts.clear()


@pytest.fixture
async def browsing(browser: Browser, stack: Stack) -> AsyncIterator[Browsing]:
    pages = Browsing(browser, stack.portal_url)
    yield pages
    await pages.close()


# -- checks ---------------------------------------------------------------------------------------
_AXE = Axe()


async def check_axe(page: Page, what: str = "") -> None:
    """axe-core (shipped offline by axe-playwright-python), WCAG 2.0/2.1 A and AA: no violation.
    Needs JavaScript on in the page's context (axe runs in the page)."""
    options = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
    try:
        results = await asyncio.wait_for(_AXE.run(page, options=options), AXE_TIMEOUT)
    except TimeoutError:
        raise AssertionError(f"axe did not finish on {page.url}: is JavaScript on?") from None
    violations = results.response["violations"]
    lines = [
        f"- {v['id']} ({v.get('impact')}): {v['help']} — "
        + "; ".join(" ".join(map(str, node["target"])) for node in v["nodes"])
        for v in violations
    ]
    assert not violations, (
        f"axe: {len(violations)} WCAG violation(s) on {what or page.url} "
        f"at {page.viewport_size}:\n" + "\n".join(lines)
    )


_OVERFLOW = """() => {
  const root = document.scrollingElement;
  const width = root.clientWidth;
  const wide = [...document.body.querySelectorAll('*')]
    .filter(e => e.getBoundingClientRect().right > width + 0.5)
    .filter(e => !e.parentElement.closest('.table-wrap'))
    .slice(0, 5)
    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
         + (e.classList.length ? '.' + [...e.classList].join('.') : '')
         + ' (' + Math.round(e.getBoundingClientRect().right) + ' px)');
  return {scroll: root.scrollWidth, width: width, wide: wide};
}"""


async def no_horizontal_scroll(page: Page, what: str = "") -> None:
    """The page is no wider than the viewport (WCAG 1.4.10: no scrolling in two directions);
    the message names the elements that stick out."""
    found = await page.evaluate(_OVERFLOW)
    assert found["scroll"] <= found["width"], (
        f"horizontal scroll on {what or page.url}: the page is {found['scroll']} px wide in a "
        f"{found['width']} px viewport; sticking out: {', '.join(found['wide']) or '?'}"
    )


# Each list table that stacks on a narrow screen (class "stacked"): how far its box scrolls
# sideways, and how many of its cells show their column's name.
_STACKED = """() => [...document.querySelectorAll('table.stacked')].map(t => {
  const wrap = t.closest('.table-wrap') || t;
  const cells = [...t.querySelectorAll('td')];
  return {
    caption: t.caption ? t.caption.textContent.trim() : (t.id || 'table'),
    overflow: wrap.scrollWidth - wrap.clientWidth,
    cells: cells.length,
    labelled: cells.filter(c => c.dataset.label
      && getComputedStyle(c, '::before').content.includes(c.dataset.label)).length,
  };
})"""


async def stacked_tables_fit(page: Page, what: str = "") -> int:
    """At a phone's width every list table shows one card per row: nothing scrolls sideways
    inside its box, every cell is led by its column's name, and Chromium's accessibility tree
    still has the table's cells (the ARIA roles keep them when CSS no longer shows a table).
    Answers how many such tables the page has."""
    tables = await page.evaluate(_STACKED)
    for table in tables:
        assert table["overflow"] <= 0, f"{table['caption']} scrolls sideways on {what}"
        assert table["labelled"] == table["cells"], f"{table['caption']}: unlabelled cells"
    if tables:
        cdp = await page.context.new_cdp_session(page)
        try:
            tree = await cdp.send("Accessibility.getFullAXTree")
        finally:
            await cdp.detach()
        roles = [node.get("role", {}).get("value") for node in tree["nodes"]]
        cells = sum(table["cells"] for table in tables)
        assert roles.count("table") >= len(tables), f"stacked tables lost their role on {what}"
        assert roles.count("cell") >= cells, f"stacked tables lost their cells on {what}"
    return len(tables)


async def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG under var/screenshots/<viewport width>/<name>.png, one image pixel per
    CSS pixel: a window of device pixel ratio 2 (200 % zoom) is pictured in the layout it has
    (what the picture is for), at half the resolution: a quarter of the pixels to paint and
    encode (0.57 -> 0.30 s CPU for a long page)."""
    width = page.viewport_size["width"] if page.viewport_size else 0
    path = SCREENSHOTS / str(width) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(path), full_page=True, scale="css")
    return path


# -- keyboard -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stop:
    """Where focus is: its place in document order, a description, and what the eye sees."""

    order: int  # index among all elements; -1 for the document itself (focus outside)
    label: str
    visible: bool  # a focus indicator: an outline or a box shadow
    in_footer: bool
    href: str


_FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body || e === document.documentElement) {
    return {order: -1, label: 'document', visible: true, in_footer: false, href: ''};
  }
  const s = getComputedStyle(e);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
  const text = (e.innerText || e.value || e.getAttribute('aria-label') || '').trim();
  return {
    order: [...document.getElementsByTagName('*')].indexOf(e),
    label: e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' «' + text.slice(0, 40) + '»',
    visible: outline || s.boxShadow !== 'none',
    in_footer: !!e.closest('footer'),
    href: e.getAttribute('href') || '',
  };
}"""


async def focused(page: Page) -> Stop:
    return Stop(**await page.evaluate(_FOCUSED))


async def tab_walk(page: Page, limit: int = 150) -> list[Stop]:
    """Tab through the page until focus comes round to a stop seen before (Chromium goes from
    the last stop to the document, then to the first stop): every stop once, in Tab order,
    wherever focus started."""
    stops: list[Stop] = []
    seen: set[int] = set()
    for _ in range(limit):
        await page.keyboard.press("Tab")
        stop = await focused(page)
        if stops and stop.order == stops[-1].order:
            continue  # Tab moving between the day, month and year of one date field
        if stop.order in seen and stop.order != -1:
            return stops
        seen.add(stop.order)
        if stop.order != -1:
            stops.append(stop)
    raise AssertionError(f"Tab never came round in {limit} presses on {page.url}: {stops[:20]}")


async def check_keyboard_walk(page: Page, what: str = "") -> list[Stop]:
    """Tab order follows the document (no positive tabindex), every stop shows its focus, and
    focus gets out of the content to the footer's links (no trap)."""
    stops = await tab_walk(page)
    where = what or page.url
    hidden = [s.label for s in stops if not s.visible]
    assert not hidden, f"focus not visible on {where}: {hidden}"
    orders = [s.order for s in stops]
    descents = sum(1 for a, b in zip(orders, [*orders[1:], orders[0]], strict=True) if b < a)
    assert descents <= 1, f"Tab order is not the reading order on {where}: {stops}"
    footer = await page.eval_on_selector_all(
        "footer a[href]", "links => links.map(a => a.getAttribute('href'))"
    )
    reached = {s.href for s in stops if s.in_footer}
    assert footer and set(footer) <= reached, (
        f"Tab does not reach the footer's links on {where} (a trap?): {[s.label for s in stops]}"
    )
    return stops


# -- a customer -----------------------------------------------------------------------------------
async def sign_in(page: Page, login: str, password: str = CUSTOMER_PASSWORD) -> None:
    """Through the real form, as a person would (works with JavaScript on or off)."""
    await page.goto("/logowanie")
    await page.fill("#login", login)
    await page.fill("#password", password)
    async with page.expect_navigation():
        await page.click("form[action='/logowanie'] button[type=submit]")


async def signed_in_state(browser: Browser, base_url: str, login: str) -> Any:
    """The browser's state (the session cookie) after the sign-in form: for
    ``Browsing.page(storage_state=…)``. A two-step customer's session then waits for the code."""
    pages = Browsing(browser, base_url)
    try:
        page = await pages.page()
        await sign_in(page, login)
        state = await page.context.storage_state()
    finally:
        await pages.close()
    assert any(c["name"].startswith("__Host-") for c in state["cookies"]), state
    return state
