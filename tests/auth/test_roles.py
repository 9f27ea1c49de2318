"""Roles at auth itself: every operator route auth serves refuses an operator without its
role (403 naming it, logged) and lets one with it through; and what admins do with roles:
change them (sessions end, the next token carries the new ones), deactivate, reset TOTP,
never leave e-BOK without an active admin."""

from __future__ import annotations

import time
from typing import Any

import pyotp

from tests.auth.harness import Auth
from tests.support.roles import operator_routes, walk


async def test_every_operator_route_needs_its_role(auth: Auth) -> None:
    sessions: dict[tuple[str, ...], dict[str, str]] = {}

    async def headers(roles: tuple[str, ...]) -> dict[str, str]:
        if roles not in sessions:
            tokens = await auth.operator(f"op.{len(sessions)}", roles=roles)
            sessions[roles] = {"Authorization": f"Bearer {tokens['access_token']}"}
        return sessions[roles]

    routes = operator_routes(auth.client.app)
    assert {r.role for r in routes} == {"customer_service", "content", "admin"}
    await walk(auth.client, routes, headers)


async def _login(
    auth: Auth, login: str, password: str, secret: str, ahead: int = 0
) -> tuple[int, Any]:
    """A TOTP login; ``ahead``: the code of a later step (one step's code is used once)."""
    code = pyotp.TOTP(secret).at(time.time() + 30 * ahead)
    return await auth.call(
        "POST",
        "/operator/sessions",
        json_body={"login": login, "password": password, "totp_code": code},
    )


async def test_admin_changes_roles_deactivates_and_resets_totp(auth: Auth) -> None:
    admin = (await auth.operator("szef", roles=("admin",)))["access_token"]
    anna = await auth.operator("anna.nowak", roles=("customer_service",))
    assert (await auth.call("GET", "/operator/accounts", token=anna["access_token"]))[0] == 200

    status, problem = await auth.call(
        "PUT",
        "/operator/operators/anna.nowak/roles",
        token=admin,
        json_body={"roles": ["superuser"], "reason": "awans"},
    )
    assert status == 422 and problem["errors"][0]["field"].startswith("roles")
    status, changed = await auth.call(
        "PUT",
        "/operator/operators/anna.nowak/roles",
        token=admin,
        json_body={"roles": ["content", "billing"], "reason": "Przejście do działu treści."},
    )
    assert status == 200 and changed["roles"] == ["billing", "content"]
    assert changed["roles_changed_by"] == "operator:szef" and changed["roles_changed_at"]
    # Her session ended with the change: the old token (customer_service) works no more.
    status, problem = await auth.call("GET", "/operator/accounts", token=anna["access_token"])
    assert status == 401 and problem["code"] == "session-ended"
    status, tokens = await _login(auth, "anna.nowak", "Operator-Haslo-1", anna["totp_secret"], 1)
    assert status == 201 and tokens["roles"] == ["billing", "content"]  # for the console
    status, problem = await auth.call("GET", "/operator/accounts", token=tokens["access_token"])
    assert status == 403 and problem["role"] == "customer_service"
    await auth.eventually_audited("operator.roles_changed")
    _, log = await auth.call(
        "GET", "/operator/audit?type=operator.roles_changed", token=(await _cs(auth))
    )
    [entry] = log["items"]
    assert entry["actor"] == "operator:szef" and entry["subject"] == "anna.nowak"
    assert entry["details"]["roles_before"] == ["customer_service"]
    assert entry["details"]["roles"] == ["billing", "content"]

    # A lost phone: a new TOTP key, shown once; the old one no longer logs in.
    status, reset = await auth.call(
        "POST",
        "/operator/operators/anna.nowak/totp-reset",
        token=admin,
        json_body={"reason": "Zgubiony telefon."},
    )
    assert status == 200 and reset["otpauth_uri"].startswith("otpauth://totp/")
    assert reset["totp_secret"] != anna["totp_secret"]
    # Her session ended with the reset (a content route she holds answers 401, not 422).
    status, problem = await auth.call(
        "POST", "/operator/regulations", token=tokens["access_token"], json_body={}
    )
    assert status == 401 and problem["code"] == "session-ended"
    status, _ = await _login(auth, "anna.nowak", "Operator-Haslo-1", anna["totp_secret"])
    assert status == 401
    status, _ = await _login(auth, "anna.nowak", "Operator-Haslo-1", reset["totp_secret"])
    assert status == 201

    status, gone = await auth.call(
        "POST",
        "/operator/operators/anna.nowak/deactivation",
        token=admin,
        json_body={"reason": "Koniec umowy o pracę."},
    )
    assert status == 200 and gone["active"] is False and gone["deactivated_by"] == "operator:szef"
    status, _ = await _login(auth, "anna.nowak", "Operator-Haslo-1", reset["totp_secret"])
    assert status == 401
    status, _ = await auth.call(
        "PUT",
        "/operator/operators/anna.nowak/roles",
        token=admin,
        json_body={"roles": ["content"], "reason": "Pomyłka."},
    )
    assert status == 404


async def _cs(auth: Auth) -> str:
    return str((await auth.operator("kontrola", roles=("customer_service",)))["access_token"])


async def test_the_last_admin_keeps_the_admin_role(auth: Auth) -> None:
    admin = (await auth.operator("szef", roles=("admin",)))["access_token"]
    for method, path, body in [
        ("PUT", "/operator/operators/szef/roles", {"roles": ["billing"], "reason": "Zmiana."}),
        ("POST", "/operator/operators/szef/deactivation", {"reason": "Odchodzę."}),
    ]:
        status, problem = await auth.call(method, path, token=admin, json_body=body)
        assert status == 409 and problem["code"] == "last-admin", path
    # With a second admin, the first may give up the role (and gets other ones).
    await auth.operator("zastepca", roles=("admin",))
    status, changed = await auth.call(
        "PUT",
        "/operator/operators/szef/roles",
        token=admin,
        json_body={"roles": ["customer_service"], "reason": "Powrót do obsługi klienta."},
    )
    assert status == 200 and changed["roles"] == ["customer_service"]


async def test_a_role_refusal_reaches_the_audit_log_with_the_operator_and_route(
    auth: Auth,
) -> None:
    """Issue 13: role refusals are audited, not only logged. The refusing service (here auth
    itself) writes security.access.refused to its outbox; auth's consumer turns it into an
    audit row (the same way as a refusal from billing or the gateway)."""
    clerk = await auth.operator("ola.refused", roles=("customer_service",))
    for _ in range(3):  # one event a minute per operator and route: one row
        status, problem = await auth.call("GET", "/operator/operators", token=clerk["access_token"])
        assert status == 403 and problem["code"] == "role-required"
    await auth.eventually_audited("access.refused")
    rows = await auth.pool.fetch(
        "SELECT actor, subject, details FROM audit_entries WHERE type = 'access.refused'"
    )
    assert [(r["actor"], r["subject"]) for r in rows] == [("operator:ola.refused", "ola.refused")]
    assert rows[0]["details"] == {
        "service": "auth",
        "method": "GET",
        "route": "/operator/operators",
        "status": 403,
        "problem": "role-required",
        "count": 1,
    }
    admin = await auth.operator("szef.audit", roles=("admin", "customer_service"))
    status, log = await auth.call(
        "GET", "/operator/audit?type=access.refused&limit=10", token=admin["access_token"]
    )
    assert status == 200 and log["items"][0]["actor"] == "operator:ola.refused", log
