"""The browser the tests drive: Debian's Chromium must be the major Playwright was built for
(Playwright speaks Chromium's DevTools protocol of that release), and it must start here."""

from __future__ import annotations

import json
from importlib.metadata import version
import re
import subprocess
from pathlib import Path

import playwright
from playwright.async_api import Browser

from .browser import CHROMIUM, DESKTOP, Browsing

BROWSERS_JSON = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"


def playwright_chromium_version() -> str:
    browsers = json.loads(BROWSERS_JSON.read_text("utf-8"))["browsers"]
    return str(next(b["browserVersion"] for b in browsers if b["name"] == "chromium"))


def debian_chromium_version() -> str:
    done = subprocess.run(
        [str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    found = re.search(r"Chromium (\d+(?:\.\d+)*)", done.stdout)
    assert found, f"`{CHROMIUM} --version` said: {done.stdout!r} {done.stderr!r}"
    return found.group(1)


def test_playwright_and_debian_chromium_are_the_same_major() -> None:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run `make browser` (apt chromium)"
    expected, installed = playwright_chromium_version(), debian_chromium_version()
    wanted, have = int(expected.split(".")[0]), int(installed.split(".")[0])
    if have < wanted:
        todo = (
            "upgrade Debian's chromium (`apt-get update && apt-get install --only-upgrade "
            f"chromium`), or pin the Playwright release built for Chromium {have}"
        )
    else:
        todo = f"pin the Playwright release built for Chromium {have}"
    assert wanted == have, (
        f"\n\n  Playwright {version('playwright')} expects Chromium {expected}, but Debian's "
        f"{CHROMIUM} is Chromium {installed}: majors {wanted} ≠ {have}.\n"
        "  The browser tests would fail in odd ways (the DevTools protocol drifts).\n"
        f"  To do: {todo}.\n"
        "  The pin is `playwright==…` in pyproject.toml's dev group (then `uv lock`); a release's\n"
        "  Chromium is in its playwright/driver/package/browsers.json. Never `playwright install`:\n"
        f"  the tests drive {CHROMIUM} only.\n"
    )


async def test_chromium_starts_headless_and_runs_pages_with_javascript_on_and_off(
    browser: Browser,
) -> None:
    assert browser.version.split(".")[0] == playwright_chromium_version().split(".")[0]
    pages = Browsing(browser, "about:blank")
    try:
        for javascript in (True, False):
            page = await pages.page(DESKTOP, javascript=javascript)
            await page.set_content("<p id=out>bez JS</p><script>out.textContent = 'z JS'</script>")
            expected = "z JS" if javascript else "bez JS"
            assert await page.inner_text("#out") == expected
    finally:
        await pages.close()
