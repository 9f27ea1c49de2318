"""Customers for page tests: loaded through billing's feed (as the back office would), then
made ready through the API (registration, activation, own password) when a test needs one
that can sign in, and signed in through the portal's own form."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pyotp

from tests.e2e.client import Api, expect
from tests.e2e.data import Customer, load_customers
from tests.e2e.journeys import CUSTOMER_PASSWORD, log_in, onboard
from tests.e2e.stack import Stack

from .portal import Page, Portal, person_address

# Client numbers of one test run: random start, then counted (never two alike in a stack).
_NUMBERS = itertools.count(random.randrange(700000, 790000, 1000))


def next_numbers(count: int) -> list[str]:
    return [str(next(_NUMBERS)) for _ in range(count)]


async def fresh_customers(stack: Stack, workdir: Path, count: int = 1) -> list[Customer]:
    """Known to e-BOK (billing and its projections), not registered yet."""
    numbers = next_numbers(count)
    folder = workdir / f"batch-{numbers[0]}"
    folder.mkdir(exist_ok=True)
    return await load_customers(stack, numbers, folder)


async def ready_customer(stack: Stack, api: Api, workdir: Path) -> Customer:
    """Registered, activated, own password set (through the API)."""
    (customer,) = await fresh_customers(stack, workdir)
    await onboard(api.from_address(person_address()), stack, customer)
    return customer


async def two_step_customer(stack: Stack, api: Api, workdir: Path) -> tuple[Customer, str]:
    """A ready customer with two-step login on (through the API): the customer and the
    authenticator's secret (``pyotp.TOTP(secret).now()`` is a valid code)."""
    customer = await ready_customer(stack, api, workdir)
    token = str((await log_in(api, customer.client_number, CUSTOMER_PASSWORD))["access_token"])
    secret = str(expect(await api.post("/me/totp", token=token), 201)["secret"])
    code = pyotp.TOTP(secret).now()
    expect(await api.post("/me/totp/activation", token=token, json={"code": code}), 200)
    return customer, secret


async def sign_in(portal: Portal, login: str, password: str = CUSTOMER_PASSWORD) -> Page:
    page = await portal.get("/logowanie")
    return await portal.submit(page, {"login": login, "password": password}, action="/logowanie")
