"""Reading the money pages in tests (dashboard, consumption, invoices, contracts): tables,
sections and single elements, with amounts as the page's text shows them."""

from __future__ import annotations

from bs4 import Tag
from ebok_web.formatting import money

from tests.e2e.client import Api
from tests.e2e.data import Customer
from tests.e2e.journeys import CUSTOMER_PASSWORD, log_in

from .portal import Page, one


def plain(text: str) -> str:
    """No-break spaces as plain ones (``Page.text`` and table cells read them so)."""
    return text.replace("\u00a0", " ")


def pln(value: object) -> str:
    return plain(money(value))


def rows(page: Page, region: str) -> list[list[str]]:
    """The body rows of the table in the region labelled by ``region``, cell texts."""
    table = one(page.soup, f"[aria-labelledby={region}] table")
    return [
        [
            plain(" ".join(cell.get_text(" ", strip=True).split()))
            for cell in tr.find_all(["th", "td"])
        ]
        for tr in table.select("tbody tr")
    ]


def section(page: Page, heading_id: str) -> str:
    """The text of the section the heading ``heading_id`` opens."""
    heading = page.soup.find(id=heading_id)
    assert isinstance(heading, Tag), f"no #{heading_id} on {page}"
    found = heading.find_parent("section")
    assert found is not None
    return plain(" ".join(found.get_text(" ", strip=True).split()))


async def token(api: Api, customer: Customer) -> str:
    return str((await log_in(api, customer.client_number, CUSTOMER_PASSWORD))["access_token"])
