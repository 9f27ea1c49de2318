"""Filling in a page's own form (the one in ``<main>``, not the header's sign-out form), and
small valid files to attach."""

from __future__ import annotations

import base64
from collections.abc import Mapping

from .portal import Page, Portal

# A valid 1×1 PNG (a phone's photo, in small), a minimal PDF, and a file that is neither.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
NOT_A_DOCUMENT = b"MZ\x90\x00 just bytes, neither a photo nor a PDF"


def main_action(page: Page) -> str:
    form = page.soup.select_one("main form")
    assert form is not None, f"no form in the page: {page}"
    return str(form.get("action"))


async def fill(
    portal: Portal,
    page: Page,
    values: Mapping[str, str] | None = None,
    *,
    files: Mapping[str, tuple[str, bytes, str]] | None = None,
    button: tuple[str, str] | None = None,
) -> Page:
    """Submit the page's own form as a browser would, with ``values`` typed in."""
    return await portal.submit(page, values, action=main_action(page), files=files, button=button)


def value_of(page: Page, name: str) -> str:
    """What a field of the page holds (an input's value or a textarea's text)."""
    found = page.soup.select_one(f'[name="{name}"]')
    assert found is not None, f"no field {name}: {page}"
    if found.name == "textarea":
        return str(found.get_text())
    return str(found.get("value", ""))
