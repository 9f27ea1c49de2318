"""Two-factor login a customer may turn on, with single-use recovery codes."""

from __future__ import annotations

import datetime as dt

import pyotp
from ebok_shared.clock import clock

from tests.auth.harness import Auth

PASSWORD = "Kropla-Deszczu-2026!x"


async def test_totp_enrolment_login_and_recovery_codes(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    tokens = await auth.customer("100001", PASSWORD)
    clock.freeze(clock.now())
    status, enrol = await auth.call("POST", "/me/totp", token=tokens["access_token"])
    assert status == 201 and enrol["otpauth_uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(enrol["secret"])
    status, problem = await auth.call(
        "POST",
        "/me/totp/activation",
        token=tokens["access_token"],
        json_body={"code": "000000" if totp.at(clock.now()) != "000000" else "111111"},
    )
    assert status == 422
    status, confirmed = await auth.call(
        "POST",
        "/me/totp/activation",
        token=tokens["access_token"],
        json_body={"code": totp.at(clock.now())},
    )
    assert status == 200 and len(confirmed["recovery_codes"]) == 10

    # Password alone is no longer enough.
    status, problem = await auth.login("100001", PASSWORD)
    assert status == 401 and problem["code"] == "totp-required"
    clock.advance(dt.timedelta(seconds=30))
    status, problem = await auth.login("100001", PASSWORD, totp_code="12345a")
    assert status == 401 and problem["code"] == "invalid-credentials"
    code = totp.at(clock.now())
    assert (await auth.login("100001", PASSWORD, totp_code=code))[0] == 201
    status, _ = await auth.login("100001", PASSWORD, totp_code=code)  # no replay
    assert status == 401

    recovery = confirmed["recovery_codes"][0]
    assert (await auth.login("100001", PASSWORD, totp_code=recovery))[0] == 201
    assert (await auth.login("100001", PASSWORD, totp_code=recovery))[0] == 401  # single use
    status, me = await auth.call("GET", "/me", token=tokens["access_token"])
    assert me["totp_enabled"] is True

    clock.advance(dt.timedelta(seconds=30))
    status, _ = await auth.call(
        "POST",
        "/me/totp/removal",
        token=tokens["access_token"],
        json_body={"current_password": PASSWORD, "code": totp.at(clock.now())},
    )
    assert status == 204
    assert (await auth.login("100001", PASSWORD))[0] == 201


async def test_wrong_totp_codes_lock_the_account(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    tokens = await auth.customer("100001", PASSWORD)
    _, enrol = await auth.call("POST", "/me/totp", token=tokens["access_token"])
    totp = pyotp.TOTP(enrol["secret"])
    await auth.call(
        "POST", "/me/totp/activation", token=tokens["access_token"], json_body={"code": totp.now()}
    )
    wrong = "000000" if totp.now() != "000000" else "111111"
    for _ in range(5):
        await auth.login("100001", PASSWORD, totp_code=wrong)
    await auth.tap.payload("auth.account.locked", client_number="100001")
    status, problem = await auth.login("100001", PASSWORD, totp_code=totp.now())
    assert status == 401 and problem["code"] == "invalid-credentials"
