"""Customers ready to sign in, for modules with more of them than the gateway lets one
address register in an hour (10): each is registered from an address of its own, which the
gateway takes from ``X-Forwarded-For`` because the local stack trusts 127.0.0.1 as a proxy."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.e2e.client import Api
from tests.e2e.data import Customer
from tests.e2e.journeys import Session, onboard
from tests.e2e.stack import Stack

from .customers import fresh_customers, sign_in
from .portal import Portal


def address_of(customer: Customer) -> str:
    number = int(customer.client_number)
    return f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"


async def onboarded(stack: Stack, workdir: Path) -> tuple[Customer, Session]:
    """A new customer, registered, activated, own password set (through the API)."""
    (customer,) = await fresh_customers(stack, workdir)
    headers = {"X-Forwarded-For": address_of(customer)}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:
        session = await onboard(Api(http, stack.api), stack, customer)
    return customer, session


async def customer_signed_in(
    portal: Portal, stack: Stack, workdir: Path
) -> tuple[Customer, Session]:
    """``onboarded``, then signed in through the portal's own form."""
    customer, session = await onboarded(stack, workdir)
    page = await sign_in(portal, customer.client_number)
    assert page.path == "/pulpit", page
    return customer, session
