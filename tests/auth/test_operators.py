"""Operators (terms I.4, II.6, IV.3): TOTP login, search, block/unblock with a reason,
deletion on request, audit log, admin-only actions."""

from __future__ import annotations

import pyotp
from ebok_auth.settings import AuthSettings

from tests.auth.harness import AUDIT_KEYS, TOTP_KEYS, Auth
from tests.support.process import service_command

PASSWORD = "Kropla-Deszczu-2026!x"


async def test_operator_login_requires_totp(auth: Auth) -> None:
    from ebok_auth.resources import HASHER
    from ebok_auth.use_cases import operators

    created = await operators.create(
        auth.pool,
        auth.app[HASHER],
        login="anna.nowak",
        email="anna@mpwik.example",
        roles=["customer_service"],
        by="system:test",
        password="Operator-Haslo-1",
        settings=AuthSettings.of(auth.app),
    )
    status, problem = await auth.call(
        "POST",
        "/operator/sessions",
        json_body={"login": "anna.nowak", "password": "Operator-Haslo-1"},
    )
    assert status == 422 and problem["errors"][0]["field"] == "totp_code"
    status, problem = await auth.call(
        "POST",
        "/operator/sessions",
        json_body={"login": "anna.nowak", "password": "Zle-Haslo-1", "totp_code": "123456"},
    )
    assert status == 401 and problem["code"] == "invalid-credentials"
    status, tokens = await auth.call(
        "POST",
        "/operator/sessions",
        json_body={
            "login": "anna.nowak",
            "password": "Operator-Haslo-1",
            "totp_code": pyotp.TOTP(created["totp_secret"]).now(),
        },
    )
    assert status == 201 and tokens["restrictions"] == []
    # Customer routes are not an operator's, and operator routes are not a customer's.
    assert (await auth.call("GET", "/me", token=tokens["access_token"]))[0] == 403


async def test_generated_operator_password_must_be_changed_first(auth: Auth) -> None:
    admin = await auth.operator("admin.one", roles=("admin",))
    status, created = await auth.call(
        "POST",
        "/operator/operators",
        token=admin["access_token"],
        json_body={
            "login": "jan.op",
            "email": "jan.op@mpwik.example",
            "roles": ["customer_service"],
        },
    )
    assert status == 201 and created["initial_password"]
    status, tokens = await auth.call(
        "POST",
        "/operator/sessions",
        json_body={
            "login": "jan.op",
            "password": created["initial_password"],
            "totp_code": pyotp.TOTP(created["totp_secret"]).now(),
        },
    )
    assert status == 201 and tokens["restrictions"] == ["password_change"]
    status, problem = await auth.call("GET", "/operator/accounts", token=tokens["access_token"])
    assert status == 403 and problem["code"] == "password-change-required"
    status, fresh = await auth.call(
        "PUT",
        "/me/password",
        token=tokens["access_token"],
        json_body={
            "current_password": created["initial_password"],
            "new_password": "Moje-Haslo-2026",
        },
    )
    assert status == 200 and fresh["restrictions"] == []
    assert (await auth.call("GET", "/operator/accounts", token=fresh["access_token"]))[0] == 200
    # Only admins manage operators.
    status, problem = await auth.call(
        "POST",
        "/operator/operators",
        token=fresh["access_token"],
        json_body={"login": "x.op", "email": "x@mpwik.example", "roles": ["admin"]},
    )
    assert status == 403 and problem["code"] == "role-required" and problem["role"] == "admin"


async def test_block_unblock_and_delete_on_request(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    await auth.client_with_invoice("100002")
    customer = await auth.customer("100001", PASSWORD)
    await auth.customer("100002", PASSWORD)
    op = await auth.operator()
    token = op["access_token"]

    status, found = await auth.call("GET", "/operator/accounts?q=10000&limit=1", token=token)
    assert status == 200 and found["total"] == 2 and len(found["items"]) == 1
    status, problem = await auth.call("GET", "/operator/accounts?limit=1000", token=token)
    assert status == 400 and problem["errors"][0]["field"] == "limit"  # shared query_int
    status, found = await auth.call("GET", "/operator/accounts?q=jan@exa", token=token)
    assert status == 200 and found["total"] == 2  # by e-mail too
    # The account's view: its state, its live sessions, its latest audit entries.
    status, account = await auth.call("GET", "/operator/accounts/100001", token=token)
    assert status == 200 and account["status"] == "active"
    [session] = account["sessions"]
    assert session["started_at"] and session["last_seen_at"] and session["ip"]
    assert "login.succeeded" in {e["type"] for e in account["recent_audit"]}, account

    status, problem = await auth.call(
        "POST", "/operator/accounts/100001/block", token=token, json_body={}
    )
    assert status == 422 and problem["errors"][0]["field"] == "reason"
    status, _ = await auth.call(
        "POST",
        "/operator/accounts/100001/block",
        token=token,
        json_body={"reason": "Korzystanie niezgodne z regulaminem."},
    )
    assert status == 200
    blocked = await auth.tap.payload("auth.account.blocked", client_number="100001")
    assert blocked == {
        "client_number": "100001",
        "email": "jan@example.pl",
        "reason": "Korzystanie niezgodne z regulaminem.",
        "by": "operator:anna.nowak",
    }
    status, account = await auth.call("GET", "/operator/accounts/100001", token=token)
    assert account["status"] == "blocked" and account["sessions"] == []
    assert account["recent_audit"][0]["type"] == "account.blocked"
    # The existing session and refresh token stop working at once.
    assert (await auth.call("GET", "/me", token=customer["access_token"]))[0] == 401
    assert (
        await auth.call(
            "POST", "/sessions/refresh", json_body={"refresh_token": customer["refresh_token"]}
        )
    )[0] == 401
    status, problem = await auth.login("100001", PASSWORD)
    assert status == 403 and problem["code"] == "account-blocked"
    status, problem = await auth.login("100001", "Zle-Haslo-1")  # no oracle without password
    assert status == 401 and problem["code"] == "invalid-credentials"

    status, _ = await auth.call(
        "POST",
        "/operator/accounts/100001/unblock",
        token=token,
        json_body={"reason": "Wyjaśniono."},
    )
    assert status == 200
    await auth.tap.payload("auth.account.unblocked", client_number="100001")
    assert (await auth.login("100001", PASSWORD))[0] == 201

    status, terms = await auth.call("GET", "/operator/deletion-terms", token=token)
    fresh = (await auth.login("100001", PASSWORD))[1]["access_token"]
    status_me, own = await auth.call("GET", "/me/deletion", token=fresh)
    assert status == status_me == 200 and terms == own  # the explainer the customer sees
    status, _ = await auth.call(
        "POST",
        "/operator/accounts/100002/deletion",
        token=token,
        json_body={"reason": "Wniosek klienta z 5.01.2026"},
    )
    assert status == 200
    await auth.tap.payload("auth.account.deleted", client_number="100002")
    assert (await auth.call("GET", "/operator/accounts/100002", token=token))[0] == 404

    status, log = await auth.call("GET", "/operator/audit?subject=100001&limit=100", token=token)
    assert status == 200
    entries = {(e["type"], e["actor"]) for e in log["items"]}
    assert {
        ("account.blocked", "operator:anna.nowak"),
        ("account.unblocked", "operator:anna.nowak"),
    } <= entries
    assert all(
        e["correlation_id"] and e["ip"] for e in log["items"] if e["type"].startswith("account.")
    )
    status, log = await auth.call("GET", "/operator/audit?type=account.deleted", token=token)
    assert [e["details"]["reason"] for e in log["items"]] == ["Wniosek klienta z 5.01.2026"]
    # Customers cannot read the audit log.
    status, _ = await auth.call(
        "GET", "/operator/audit", token=(await auth.login("100001", PASSWORD))[1]["access_token"]
    )
    assert status == 403


async def test_bootstrap_admin_from_settings(database: str, amqp_url: str, bus_prefix: str) -> None:
    from ebok_shared.config import Secret

    from tests.auth.harness import running_auth

    secret = pyotp.random_base32()
    async with running_auth(
        database,
        amqp_url,
        bus_prefix,
        bootstrap_admin_login="admin",
        bootstrap_admin_password=Secret("Pierwszy-Szef-1"),
        bootstrap_admin_totp_secret=Secret(secret),
    ) as auth:
        status, tokens = await auth.call(
            "POST",
            "/operator/sessions",
            json_body={
                "login": "admin",
                "password": "Pierwszy-Szef-1",
                "totp_code": pyotp.TOTP(secret).now(),
            },
        )
        assert status == 201
        status, listed = await auth.call("GET", "/operator/operators", token=tokens["access_token"])
        assert status == 200 and listed["items"][0]["roles"] == ["admin"]


async def test_first_admin_from_the_cli_command(auth: Auth, database: str) -> None:
    import re

    done = await service_command(
        "auth",
        "create-admin",
        "--login",
        "szef",
        "--email",
        "szef@mpwik.example",
        env={
            "EBOK_DATABASE_URL": database,
            "EBOK_TOTP_KEYS": TOTP_KEYS,
            "EBOK_AUDIT_KEYS": AUDIT_KEYS,
            "EBOK_ARGON2_MEMORY_KIB": "1024",
            "EBOK_ARGON2_TIME_COST": "1",
            "EBOK_ALLOW_WEAK_HASHING": "true",
        },
    )
    assert done.code == 0, done.err
    text = done.out
    # the CLI's output is checked above; no match fails the test with a TypeError
    password = re.search(r"initial password: (\S+)", text)[1]  # type: ignore[index]
    # the CLI's output is checked above; no match fails the test with a TypeError
    secret = re.search(r"TOTP key:\s+(\S+)", text)[1]  # type: ignore[index]
    status, tokens = await auth.call(
        "POST",
        "/operator/sessions",
        json_body={"login": "szef", "password": password, "totp_code": pyotp.TOTP(secret).now()},
    )
    assert status == 201 and tokens["restrictions"] == ["password_change"]
    roles = await auth.pool.fetchval("SELECT roles FROM operators WHERE login = 'szef'")
    assert set(roles) == {"admin"}
