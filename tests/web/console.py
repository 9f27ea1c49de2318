"""Operators for the console's tests: made as the utility makes them (the first admin with
``python -m ebok_auth create-admin``, others by an admin through the API), each with its
authenticator (TOTP codes, each good once), signed in through the console's own form."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass

import pyotp

from tests.e2e.client import Api, expect
from tests.e2e.journeys import OPERATOR_PASSWORD, change_password
from tests.e2e.stack import Stack

from .portal import Page, Portal

_PRINTED = re.compile(r"^(initial password|TOTP key):\s+(\S+)")
SIGN_IN = "/operator/logowanie"
_CHECKED_WITHIN = 10  # seconds: a code reaches auth well within this, even on a loaded machine


@dataclass
class Operator:
    login: str
    password: str  # the current one (the generated one until the first sign-in changes it)
    secret: str
    last_step: int = 0  # the newest TOTP step used: auth takes each code once

    async def code(self) -> str:
        """A code auth has not seen yet and will still take when it checks it: auth allows
        ±1 step of drift, so the previous step's code only while this step has time left
        (a slow machine may check it several seconds later), else this step's or the
        next one's, waiting for a new step if those were used."""
        totp = pyotp.TOTP(self.secret)
        while True:
            seconds = time.time()
            now = int(seconds) // totp.interval
            left = totp.interval - seconds % totp.interval
            oldest = now - 1 if left > _CHECKED_WITHIN else now
            step = max(self.last_step + 1, oldest)
            if step <= now + 1:
                self.last_step = step
                return totp.generate_otp(step)
            await asyncio.sleep(1)


async def new_admin(stack: Stack) -> Operator:
    """The first admin, as ``make run`` makes it: generated password and TOTP key printed."""
    login = f"admin.{uuid.uuid4().hex[:6]}"
    code, printed = await stack.run(
        "auth", "create-admin", "--login", login, "--email", f"{login}@mpwik.example.pl"
    )
    assert code == 0, "\n".join(printed)
    found = {m[1]: m[2] for m in map(_PRINTED.match, printed) if m}
    return Operator(login, found["initial password"], found["TOTP key"])


ALL_ROLES = ["customer_service", "billing", "content", "admin"]


async def new_operator(api: Api, admin_token: str, roles: list[str]) -> Operator:
    """An operator an admin creates through the API (password and TOTP key shown once)."""
    login = f"op.{uuid.uuid4().hex[:6]}"
    body = {"login": login, "email": f"{login}@mpwik.example.pl", "roles": roles}
    reply = await api.post("/operator/auth/operators", token=admin_token, json=body)
    made = expect(reply, 201)
    return Operator(login, str(made["initial_password"]), str(made["totp_secret"]))


async def ready(api: Api, operator: Operator) -> Operator:
    """The operator's first password changed for OPERATOR_PASSWORD (through the API)."""
    body = {"login": operator.login, "password": operator.password}
    body["totp_code"] = await operator.code()
    first = expect(await api.post("/operator/sessions", json=body), 201)
    await change_password(api, str(first["access_token"]), operator.password, OPERATOR_PASSWORD)
    operator.password = OPERATOR_PASSWORD
    return operator


async def sign_in_form(portal: Portal, operator: Operator, code: str | None = None) -> Page:
    """The console's sign-in form sent with the operator's login, password and a code."""
    page = await portal.get(SIGN_IN)
    values = {
        "login": operator.login,
        "password": operator.password,
        "totp_code": code if code is not None else await operator.code(),
    }
    return await portal.submit(page, values, action=SIGN_IN)


async def console_signed_in(portal: Portal, operator: Operator) -> Page:
    """Signed in to the console; the first time also the generated password changed for
    OPERATOR_PASSWORD on the page the console sends a new operator to. The home page."""
    page = await sign_in_form(portal, operator)
    if page.path == "/operator/haslo":
        values = {
            "current_password": operator.password,
            "new_password": OPERATOR_PASSWORD,
            "new_password_repeat": OPERATOR_PASSWORD,
        }
        page = await portal.submit(page, values, action="/operator/haslo")
        operator.password = OPERATOR_PASSWORD
    assert page.path == "/operator", page
    return page


async def operator_token(api: Api, operator: Operator) -> str:
    """An access token of the operator (signed in through the API), for setting things up."""
    body = {"login": operator.login, "password": operator.password}
    body["totp_code"] = await operator.code()
    answer = expect(await api.post("/operator/sessions", json=body), 201)
    return str(answer["access_token"])
