"""Registration (terms II), activation, first login and the password rule."""

from __future__ import annotations

import datetime as dt

from ebok_auth import scheduler
from ebok_auth.passwords import generate, policy_violations
from ebok_shared.clock import clock

from tests.auth.harness import Auth


def _same(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "correlation_id"}


async def test_registration_activation_and_first_login(auth: Auth) -> None:
    await auth.client_with_invoice("100001", gross="108.00")
    status, body = await auth.register("100001", "jan@example.pl", gross="108,00", ip="203.0.113.7")
    assert status == 202 and "link aktywacyjny" in body["message"]

    registered = await auth.tap.payload("auth.account.registered", client_number="100001")
    assert registered["email"] == "jan@example.pl"
    assert registered["email_of_record"] is None  # billing has the same address: no notice
    # Evidence of accepting the regulations: version, time, IP.
    evidence = await auth.pool.fetchrow(
        "SELECT version, ip, context, accepted_at FROM regulations_acceptances"
        " WHERE client_number = '100001'"
    )
    assert (evidence["version"], evidence["ip"], evidence["context"]) == (
        1,
        "203.0.113.7",
        "registration",
    )
    # Not usable before activation.
    status, _ = await auth.login("100001", "Whatever1x")
    assert status == 401

    status, activated = await auth.call(
        "POST", "/activations", json_body={"token": registered["activation_token"]}
    )
    assert status == 200
    initial = activated["initial_password"]
    assert activated["login"] == "100001" and len(initial) >= 12
    await auth.tap.payload("auth.account.activated", client_number="100001", email="jan@example.pl")
    # The link works once.
    status, again = await auth.call(
        "POST", "/activations", json_body={"token": registered["activation_token"]}
    )
    assert status == 410 and again["code"] == "link-invalid"

    status, session = await auth.login("100001", initial)
    assert status == 201
    assert session["password_change_required"] is True
    assert session["restrictions"] == ["password_change"]
    token = session["access_token"]
    # The restricted session can do nothing but set the password.
    for method, path in (("GET", "/me"), ("GET", "/me/data"), ("POST", "/me/email-change")):
        status, problem = await auth.call(
            method, path, token=token, json_body={"email": "x@example.pl"}
        )
        if path == "/me":  # /me shows the account (and its restriction) to the front end
            assert status == 200
            continue
        assert status == 403 and problem["code"] == "password-change-required", problem
        assert problem["restrictions"] == ["password_change"]

    status, changed = await auth.call(
        "PUT",
        "/me/password",
        token=token,
        json_body={"current_password": initial, "new_password": "Kranówka-2026"},
    )
    assert status == 200 and changed["restrictions"] == []
    status, me = await auth.call("GET", "/me/data", token=changed["access_token"])
    assert status == 200 and me["account"]["client_number"] == "100001"
    # The generated password no longer works.
    status, _ = await auth.login("100001", initial)
    assert status == 401


async def test_registration_does_not_reveal_whether_a_client_exists(auth: Auth) -> None:
    await auth.client_with_invoice("100001", gross="108.00")
    await auth.client_with_invoice("100002", gross="108.00")
    await auth.activated_account("100002", "ola@example.pl")
    answers = [
        await auth.register("999999", gross="108.00", ip="203.0.113.2"),  # unknown client
        await auth.register("100001", gross="107.99", ip="203.0.113.3"),  # wrong amount
        await auth.register("100001", invoice="10000199999999", ip="203.0.113.4"),  # no such inv.
        await auth.register("100002", gross="108.00", ip="203.0.113.5"),  # has an account
        await auth.register("100001", gross="108.00", ip="203.0.113.1"),  # right, and last
    ]
    assert {status for status, _ in answers} == {202}
    assert all(_same(body) == _same(answers[-1][1]) for _, body in answers)
    # Events go out in the order they were written: once the last one is here, all are.
    await auth.tap.payload("auth.account.registered", client_number="100001")
    registered = [e.payload["client_number"] for e in auth.tap.of("auth.account.registered")]
    assert registered == ["100002", "100001"]  # 100002 only from its own first registration
    refused = await auth.pool.fetch(
        "SELECT details->>'reason' AS reason FROM audit_log"
        " WHERE type = 'registration.refused' ORDER BY id"
    )
    assert [r["reason"] for r in refused] == [
        "proof-not-matching",
        "proof-not-matching",
        "proof-not-matching",
        "account-exists",
    ]


async def test_registration_needs_the_current_regulations_accepted(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    status, problem = await auth.register("100001", version=7)
    assert status == 422 and problem["code"] == "validation"
    assert problem["errors"][0]["field"] == "accepted_regulations_version"
    status, problem = await auth.call(
        "POST",
        "/registrations",
        json_body={
            "client_number": "100001",
            "email": "jan@example.pl",
            "invoice_number": "10000126010001",
            "invoice_gross": "108.00",
        },
    )
    assert status == 422
    assert {"field": "accepted_regulations_version", "reason": "pole jest wymagane"} in problem[
        "errors"
    ]


async def test_registration_form_is_validated_per_field_in_polish(auth: Auth) -> None:
    status, problem = await auth.call(
        "POST",
        "/registrations",
        json_body={
            "client_number": "12ab",
            "email": "nie-email",
            "invoice_number": "99900026010001",
            "invoice_gross": "dużo",
            "accepted_regulations_version": 1,
            "extra": 1,
        },
    )
    assert status == 422
    fields = {e["field"] for e in problem["errors"]}
    assert {"client_number", "email", "invoice_gross", "extra"} <= fields
    status, problem = await auth.register("100001", invoice="99900026010001")
    assert status == 422 and problem["errors"] == [
        {"field": "invoice_number", "reason": "numer faktury zaczyna się od numeru klienta"}
    ]


async def test_registration_is_rate_limited_per_client_number_and_ip(auth: Auth) -> None:
    statuses = [(await auth.register("100009", ip="203.0.113.1"))[0] for i in range(7)]
    assert statuses[:5] == [202] * 5 and statuses[5:] == [429, 429]
    statuses = [(await auth.register(f"2000{i:02d}", ip="198.51.100.99"))[0] for i in range(12)]
    assert statuses[:10] == [202] * 10 and statuses[10:] == [429, 429]


async def test_unactivated_registration_is_removed_after_7_days(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    assert (await auth.register("100001"))[0] == 202
    token = (await auth.tap.payload("auth.account.registered", client_number="100001"))[
        "activation_token"
    ]
    clock.freeze(clock.now() + dt.timedelta(days=6, hours=23))
    await scheduler.tick(auth.app)
    assert await auth.pool.fetchval("SELECT status FROM accounts") == "pending"
    clock.advance(dt.timedelta(hours=2))
    await scheduler.tick(auth.app)
    assert await auth.pool.fetchval("SELECT count(*) FROM accounts") == 0
    assert await auth.pool.fetchval("SELECT count(*) FROM regulations_acceptances") == 0
    status, _ = await auth.call("POST", "/activations", json_body={"token": token})
    assert status == 410
    clock.reset()
    # The client may register again.
    assert (await auth.register("100001", ip="203.0.113.50"))[0] == 202
    await auth.tap.wait_for("auth.account.registered", 2, client_number="100001")
    assert await auth.pool.fetchval("SELECT status FROM accounts") == "pending"


async def test_password_rule_names_every_broken_rule(auth: Auth) -> None:
    tokens = await auth.customer("100001") if await _fed(auth) else None
    assert tokens is not None
    cases = {
        "krótkie": ["co najmniej 8 znaków", "wielką literę", "cyfrę"],
        "bezwielkiej1": ["wielką literę"],
        "BezCyfryZadnej": ["cyfrę"],
        "Abc100001xyz": ["loginowi"],
        "Password1": ["zbyt popularne"],
        "A1" + "x" * 300: ["najwyżej 256"],
    }
    for password, expected in cases.items():
        status, problem = await auth.call(
            "PUT",
            "/me/password",
            token=tokens["access_token"],
            json_body={"current_password": "Kropla-Deszczu-2026!x", "new_password": password},
        )
        assert status == 422 and problem["code"] == "password-policy", password
        reasons = [e["reason"] for e in problem["errors"]]
        assert all(e["field"] == "new_password" for e in problem["errors"])
        assert len(reasons) == len(expected), (password, reasons)
        for fragment, reason in zip(expected, reasons, strict=True):
            assert fragment in reason
    # Unicode, specials and 128+ characters are fine.
    status, _ = await auth.call(
        "PUT",
        "/me/password",
        token=tokens["access_token"],
        json_body={
            "current_password": "Kropla-Deszczu-2026!x",
            "new_password": "Źdźbło-Żółw 7 " + "ą" * 120,
        },
    )
    assert status == 200


async def _fed(auth: Auth) -> bool:
    await auth.client_with_invoice("100001")
    return True


def test_generated_passwords_have_no_characters_people_confuse() -> None:
    """The activation page shows the first password for the customer to copy or type."""
    for _ in range(200):
        password = generate()
        assert not set(password) & set("0Oo1lI"), password
        assert policy_violations(password, "100001") == [], password


async def test_billings_address_of_record_is_named_when_another_one_registers(
    auth: Auth,
) -> None:
    """Issue 14.9: whoever holds a paper invoice can register with any address; the event
    names billing's address of record so the notifier can tell it (no secret goes there)."""
    await auth.client_with_invoice("100002", email="Anna@Example.pl")
    status, _ = await auth.register("100002", "ktos.inny@example.pl", ip="203.0.113.9")
    assert status == 202
    registered = await auth.tap.payload("auth.account.registered", client_number="100002")
    assert registered["email"] == "ktos.inny@example.pl"
    assert registered["email_of_record"] == "Anna@Example.pl"

    await auth.client_with_invoice("100003", email=None)  # billing knows no address
    status, _ = await auth.register("100003", "jan@example.pl", ip="203.0.113.10")
    assert status == 202
    registered = await auth.tap.payload("auth.account.registered", client_number="100003")
    assert registered["email_of_record"] is None
