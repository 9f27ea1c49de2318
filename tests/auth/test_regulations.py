"""Regulations (IV.2): seeded version 1, admin-published versions with notice, what changed,
restricted tokens from the effective date, every acceptance kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ebok_shared.clock import clock

from tests.auth.harness import Auth

PASSWORD = "Kropla-Deszczu-2026!x"
V1 = (Path(__file__).parents[2] / "services/auth/src/ebok_auth/data/regulamin-v1.txt").read_text()
NEW_II7 = (
    "7. W przypadku rozwiązania umowy na dostarczanie wody i /lub odprowadzanie ścieków "
    "Operator blokuje dostęp do konta Klienta po 14 dniach kalendarzowych."
)


def _v2() -> str:
    start = V1.index("7. W przypadku rozwiązania umowy")
    end = V1.index("III. Korzystanie")
    return V1[:start] + NEW_II7 + "\n" + V1[end:]


async def test_version_1_is_the_utility_text_in_force(auth: Auth) -> None:
    status, current = await auth.call("GET", "/regulations/current")
    assert status == 200 and current["version"] == 1 and current["upcoming"] is None
    assert current["body"] == V1
    assert dt.datetime.fromisoformat(current["effective_from"]) < clock.now()


async def test_new_version_restricts_until_accepted(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    await auth.customer("100001", PASSWORD)
    editor = await auth.operator("ewa.tresci", roles=("content",))
    operator = await auth.operator("anna.nowak")
    soon = (clock.now() + dt.timedelta(days=5)).isoformat()
    later = clock.now() + dt.timedelta(days=20)
    body = {"body": _v2(), "effective_from": soon, "summary": "Krótszy termin blokady."}
    status, problem = await auth.call(
        "POST", "/operator/regulations", token=editor["access_token"], json_body=body
    )
    assert status == 422 and problem["errors"][0]["field"] == "effective_from"
    status, _ = await auth.call(
        "POST",
        "/operator/regulations",
        token=operator["access_token"],
        json_body={**body, "effective_from": later.isoformat()},
    )
    assert status == 403  # the content role only
    # The preview shows what would change, side by side, and stores nothing.
    status, preview = await auth.call(
        "POST",
        "/operator/regulations/preview",
        token=editor["access_token"],
        json_body={"body": body["body"]},
    )
    assert status == 200 and preview["based_on_version"] == 1
    [changed] = preview["changes"]
    assert changed["clause"] == "II.7" and "14 dniach" in changed["current"]
    assert "30 dni kalendarzowych" in changed["previous"]
    assert preview["notice_days"] >= 14 and preview["earliest_effective_from"]
    assert (await auth.call("GET", "/regulations/2"))[0] == 404
    status, published = await auth.call(
        "POST",
        "/operator/regulations",
        token=editor["access_token"],
        json_body={**body, "effective_from": later.isoformat()},
    )
    assert status == 201 and published["version"] == 2
    event = await auth.tap.payload("auth.regulations.published", version=2)
    assert event["changed_clauses"] == ["II.7"] and event["summary"] == "Krótszy termin blokady."

    status, changes = await auth.call("GET", "/regulations/2/changes")
    assert status == 200 and changes["previous_version"] == 1
    [change] = changes["changes"]
    assert change["clause"] == "II.7"
    assert "30 dni kalendarzowych" in change["previous"] and "14 dniach" in change["current"]

    # Before the effective date nothing changes for the customer.
    status, tokens = await auth.login("100001", PASSWORD)
    assert status == 201 and tokens["restrictions"] == []
    _, current = await auth.call("GET", "/regulations/current")
    assert current["version"] == 1 and current["upcoming"]["version"] == 2
    _, me = await auth.call("GET", "/me", token=tokens["access_token"])
    assert me["regulations"]["upcoming"] == {  # for the dashboard's "new terms coming"
        "version": 2,
        "effective_from": later.isoformat(),
        "summary": "Krótszy termin blokady.",
    }

    clock.freeze(later + dt.timedelta(minutes=1))
    status, tokens = await auth.login("100001", PASSWORD)
    assert status == 201 and tokens["restrictions"] == ["regulations"]
    token = tokens["access_token"]
    status, problem = await auth.call(
        "POST", "/me/email-change", token=token, json_body={"email": "x@example.pl"}
    )
    assert status == 403 and problem["code"] == "regulations-acceptance-required"
    assert problem["restrictions"] == ["regulations"]
    status, me = await auth.call("GET", "/me", token=token)
    assert status == 200 and me["regulations"] == {
        "accepted_version": 1,
        "current_version": 2,
        "upcoming": None,
    }
    status, _ = await auth.call(
        "POST", "/me/regulations/acceptances", token=token, json_body={"version": 1}
    )
    assert status == 422
    status, accepted = await auth.call(
        "POST",
        "/me/regulations/acceptances",
        token=token,
        json_body={"version": 2},
        ip="203.0.113.9",
    )
    assert status == 201 and accepted["version"] == 2
    status, fresh = await auth.call(
        "POST", "/sessions/refresh", json_body={"refresh_token": tokens["refresh_token"]}
    )
    assert status == 200 and fresh["restrictions"] == []
    assert (
        await auth.call(
            "POST",
            "/me/email-change",
            token=fresh["access_token"],
            json_body={"email": "x@example.pl", "current_password": PASSWORD},
        )
    )[0] == 202
    kept = await auth.pool.fetch(
        "SELECT version, ip, context FROM regulations_acceptances ORDER BY id"
    )
    assert [(r["version"], r["context"]) for r in kept] == [(1, "registration"), (2, "session")]
    assert kept[1]["ip"] == "203.0.113.9"


async def test_acceptance_of_an_impossible_version_is_refused_not_an_error(auth: Auth) -> None:
    """A version number beyond any the routes name (found by the e2e schemathesis run: it
    overflowed the database integer and answered 500)."""
    await auth.client_with_invoice("100001")
    await auth.customer("100001", PASSWORD)
    status, tokens = await auth.login("100001", PASSWORD)
    assert status == 201
    for version in (10**22, 2**31, 1_000_000):
        status, problem = await auth.call(
            "POST",
            "/me/regulations/acceptances",
            token=tokens["access_token"],
            json_body={"version": version},
        )
        assert status == 422 and problem["errors"][0]["field"] == "version", problem
