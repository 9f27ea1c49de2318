"""Forgotten password by e-mailed single-use link; e-mail change confirmed by the new
address."""

from __future__ import annotations

import datetime as dt

from ebok_shared.clock import clock

from tests.auth.harness import Auth

PASSWORD = "Kropla-Deszczu-2026!x"


def _same(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "correlation_id"}


async def test_password_reset_by_single_use_link(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    old = await auth.customer("100001", PASSWORD)
    known = await auth.call(
        "POST", "/password-resets", json_body={"login": "100001"}, ip="192.0.2.1"
    )
    unknown = await auth.call(
        "POST", "/password-resets", json_body={"login": "999999"}, ip="192.0.2.2"
    )
    assert known[0] == unknown[0] == 202 and _same(known[1]) == _same(unknown[1])
    requested = await auth.tap.payload("auth.password_reset.requested", client_number="100001")
    assert requested["email"] == "jan@example.pl"
    assert not auth.tap.of("auth.password_reset.requested", client_number="999999")

    token = requested["token"]
    status, problem = await auth.call(
        "POST", "/password-resets/confirm", json_body={"token": token, "new_password": "abc"}
    )
    assert status == 422 and problem["code"] == "password-policy"
    status, _ = await auth.call(
        "POST",
        "/password-resets/confirm",
        json_body={"token": token, "new_password": "Nowe-Haslo-2027"},
    )
    assert status == 200
    status, problem = await auth.call(
        "POST",
        "/password-resets/confirm",
        json_body={"token": token, "new_password": "Inne-Haslo-2028"},
    )
    assert status == 410 and problem["code"] == "link-invalid"
    # Every session ended; only the new password works.
    assert (
        await auth.call(
            "POST", "/sessions/refresh", json_body={"refresh_token": old["refresh_token"]}
        )
    )[0] == 401
    assert (await auth.login("100001", PASSWORD))[0] == 401
    assert (await auth.login("100001", "Nowe-Haslo-2027"))[0] == 201


async def test_reset_link_expires(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    await auth.customer("100001", PASSWORD)
    await auth.call("POST", "/password-resets", json_body={"login": "100001"})
    token = (await auth.tap.payload("auth.password_reset.requested"))["token"]
    clock.freeze(clock.now() + dt.timedelta(minutes=61))
    status, _ = await auth.call(
        "POST",
        "/password-resets/confirm",
        json_body={"token": token, "new_password": "Nowe-Haslo-2027"},
    )
    assert status == 410


async def test_reset_requests_are_rate_limited_per_login_and_address(auth: Auth) -> None:
    statuses = [
        (
            await auth.call(
                "POST", "/password-resets", json_body={"login": "100001"}, ip="192.0.2.1"
            )
        )[0]
        for i in range(5)
    ]
    assert statuses == [202, 202, 202, 429, 429]


async def test_email_changes_only_when_the_new_address_confirms(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    tokens = await auth.customer("100001", PASSWORD)
    status, _ = await auth.call(
        "POST",
        "/me/email-change",
        token=tokens["access_token"],
        json_body={"email": "jan.nowy@example.pl", "current_password": PASSWORD},
    )
    assert status == 202
    requested = await auth.tap.payload("auth.email_change.requested", client_number="100001")
    assert requested["new_email"] == "jan.nowy@example.pl"
    _, me = await auth.call("GET", "/me", token=tokens["access_token"])
    assert me["email"] == "jan@example.pl"  # not before confirmation
    status, body = await auth.call(
        "POST", "/email-changes/confirm", json_body={"token": requested["token"]}
    )
    assert status == 200 and body["email"] == "jan.nowy@example.pl"
    changed = await auth.tap.payload("auth.email.changed", client_number="100001")
    assert changed == {
        "client_number": "100001",
        "email": "jan.nowy@example.pl",
        "previous_email": "jan@example.pl",
    }
    _, me = await auth.call("GET", "/me", token=tokens["access_token"])
    assert me["email"] == "jan.nowy@example.pl"
    status, _ = await auth.call(
        "POST", "/email-changes/confirm", json_body={"token": requested["token"]}
    )
    assert status == 410
