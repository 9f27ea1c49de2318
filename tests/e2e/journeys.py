"""Steps that several end-to-end tests walk through the gateway: a customer from the
registration form to a full session, and an operator from ``create-admin`` to a full
session with TOTP."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pyotp
from ebok_notifier.render import PAGES
from ebok_shared.http.roles import ROLES

from .client import Api, expect
from .data import Customer
from .mail import subject_has, wait_for_mail
from .stack import Stack

# Meets the policy (terms I.3 and more): 8+ characters, a capital letter, a digit, not common.
CUSTOMER_PASSWORD = "Zielona-Kropla-2026"
OPERATOR_PASSWORD = "Szafa-Zaworow-77"
ACTIVATION_PAGE = PAGES["activate"]  # where the activation e-mail's link leads


@dataclass
class Session:
    login: str
    password: str
    access: str
    refresh: str


async def register(api: Api, stack: Stack, customer: Customer) -> str:
    """The registration form, with the current regulations accepted; the token of the
    activation link e-mailed to the address given."""
    version = expect(await api.get("/regulations/current"), 200)["version"]
    form = {
        "client_number": customer.client_number,
        "email": customer.email,
        "invoice_number": customer.invoice_number,
        "invoice_gross": customer.gross,
        "accepted_regulations_version": version,
    }
    expect(await api.post("/registrations", json=form), 202)
    mail = await wait_for_mail(stack.maildir, customer.email, subject_has("Aktywuj konto"))
    assert customer.client_number in mail.text
    return mail.token(ACTIVATION_PAGE)


async def activate(api: Api, token: str) -> str:
    """The activation page's POST: the generated initial password, shown once."""
    body = expect(await api.post("/activations", json={"token": token}), 200)
    password: str = body["initial_password"]
    return password


async def log_in(api: Api, login: str, password: str) -> dict[str, object]:
    body: dict[str, object] = expect(
        await api.post("/sessions", json={"login": login, "password": password}), 201
    )
    return body


async def change_password(api: Api, token: str, current: str, new: str) -> dict[str, object]:
    body: dict[str, object] = expect(
        await api.put(
            "/me/password", token=token, json={"current_password": current, "new_password": new}
        ),
        200,
    )
    return body


async def onboard(api: Api, stack: Stack, customer: Customer) -> Session:
    """Registration, activation, the first login's password change, a fresh login."""
    initial = await activate(api, await register(api, stack, customer))
    first = await log_in(api, customer.client_number, initial)
    await change_password(api, str(first["access_token"]), initial, CUSTOMER_PASSWORD)
    full = await log_in(api, customer.client_number, CUSTOMER_PASSWORD)
    assert full["password_change_required"] is False, full
    return Session(
        customer.client_number,
        CUSTOMER_PASSWORD,
        str(full["access_token"]),
        str(full["refresh_token"]),
    )


_PRINTED = re.compile(r"^(initial password|TOTP key):\s+(\S+)")


async def operator_session(api: Api, stack: Stack) -> Session:
    """An admin made with ``python -m ebok_auth create-admin`` (generated password, TOTP key
    printed once), holding every role, signed in through the gateway with a TOTP code,
    password changed."""
    login = f"admin.{uuid.uuid4().hex[:6]}"
    code, printed = await stack.run(
        "auth",
        "create-admin",
        "--login",
        login,
        "--email",
        f"{login}@mpwik.example.pl",
        "--roles",
        ",".join(ROLES),
    )
    assert code == 0, "\n".join(printed)
    found = {m[1]: m[2] for m in map(_PRINTED.match, printed) if m}
    initial, secret = found["initial password"], found["TOTP key"]
    first = expect(
        await api.post(
            "/operator/sessions",
            json={"login": login, "password": initial, "totp_code": pyotp.TOTP(secret).now()},
        ),
        201,
    )
    assert first["password_change_required"] is True, first
    changed = await change_password(api, first["access_token"], initial, OPERATOR_PASSWORD)
    assert changed["restrictions"] == [], changed
    return Session(
        login, OPERATOR_PASSWORD, str(changed["access_token"]), str(changed["refresh_token"])
    )
