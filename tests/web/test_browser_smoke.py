"""The browser the tests drive: Debian's Chromium must be the major Playwright was built for
(Playwright speaks Chromium's DevTools protocol of that release), and it must start here; the
browser checks themselves catch what they are for. No stack needed."""

from __future__ import annotations

import json
import re
import subprocess
from importlib.metadata import version
from pathlib import Path

import playwright
import pytest
from playwright.async_api import Browser

from .browser import (
    CHROMIUM,
    DESKTOP,
    NARROWEST,
    Browsing,
    check_axe,
    check_keyboard_walk,
    no_horizontal_scroll,
)

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
        "  The pin is `playwright==…` in pyproject.toml's dev group (then `uv lock`);\n"
        "  a release's Chromium is in its playwright/driver/package/browsers.json.\n"
        f"  Never `playwright install`: the tests drive {CHROMIUM} only.\n"
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


GOOD = """<!doctype html><html lang="pl"><head><title>Próba</title>
<style>a:focus-visible, input:focus-visible {{ outline: 3px solid #000 }} {style}</style></head>
<body><main><h1>Próba</h1>{main}</main>
<footer><a href="/kontakt">Kontakt</a> <a href="/dostepnosc">Dostępność</a></footer>
</body></html>"""


async def test_the_checks_catch_what_they_are_for(browser: Browser) -> None:
    """Each check passes on a sound page and names the fault on a broken one."""
    pages = Browsing(browser, "about:blank")
    try:
        page = await pages.page(NARROWEST)
        sound = '<label for="a">Imię</label> <input id="a"> <a href="#x">Dalej</a>'
        await page.set_content(GOOD.format(style="", main=sound))
        await check_axe(page)
        await no_horizontal_scroll(page)
        assert len(await check_keyboard_walk(page)) == 4

        broken = [
            (check_axe, "", '<input id="a"><img src="x.png">', ["label", "image-alt", "#a"]),
            (no_horizontal_scroll, "", '<p class="wide">szeroki</p>', ["p.wide", "320 px"]),
            (check_keyboard_walk, "a { outline: none !important }", sound, ["not visible"]),
            (check_keyboard_walk, "", sound + '<a href="#y" tabindex="1">Najpierw</a>', ["order"]),
        ]
        for check, style, main, said in broken:
            style += " .wide { width: 500px }"
            await page.set_content(GOOD.format(style=style, main=main))
            with pytest.raises(AssertionError) as failure:
                await check(page)
            for words in said:
                assert words in str(failure.value), (check.__name__, str(failure.value))
    finally:
        await pages.close()
