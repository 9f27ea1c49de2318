"""GDPR: the customer's export, the deletion terms shown first, deletion and its event."""

from __future__ import annotations

from tests.auth.harness import Auth

PASSWORD = "Kropla-Deszczu-2026!x"


async def test_export_preview_and_deletion(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    tokens = await auth.customer("100001", PASSWORD)
    status, export = await auth.call("GET", "/me/data", token=tokens["access_token"])
    assert status == 200
    assert export["account"]["email"] == "jan@example.pl"
    assert [a["version"] for a in export["regulations_acceptances"]] == [1]
    assert export["billing_projection"]["invoice_numbers"] == ["10000126010001"]
    assert {e["type"] for e in export["security_events"]} >= {"login.succeeded", "password.changed"}
    assert "password_hash" not in str(export)

    status, terms = await auth.call("GET", "/me/deletion", token=tokens["access_token"])
    assert status == 200
    assert any("hasła" in item for item in terms["deleted_now"])
    assert all({"data", "until", "legal_basis"} <= set(k) for k in terms["kept"])

    status, _problem = await auth.call(
        "DELETE",
        "/me",
        token=tokens["access_token"],
        json_body={"current_password": "Zle-haslo-1", "confirm": True},
    )
    assert status == 422
    status, done = await auth.call(
        "DELETE",
        "/me",
        token=tokens["access_token"],
        json_body={"current_password": PASSWORD, "confirm": True},
    )
    assert status == 200 and done["kept"] == terms["kept"]
    assert await auth.tap.payload("auth.account.deleted", client_number="100001") == {
        "client_number": "100001"
    }

    # Credentials and sessions are gone at once.
    assert (await auth.call("GET", "/me", token=tokens["access_token"]))[0] == 401
    assert (
        await auth.call(
            "POST", "/sessions/refresh", json_body={"refresh_token": tokens["refresh_token"]}
        )
    )[0] == 401
    assert (await auth.login("100001", PASSWORD))[0] == 401
    assert await auth.pool.fetchval("SELECT count(*) FROM accounts") == 0
    # The evidence of accepting the regulations is kept, with its retention date.
    kept = await auth.pool.fetchrow("SELECT retain_until FROM regulations_acceptances")
    assert kept["retain_until"] is not None

    # The same client number may register again.
    assert (await auth.register("100001", ip="203.0.113.77"))[0] == 202
    await auth.tap.wait_for("auth.account.registered", 2, client_number="100001")
    assert await auth.pool.fetchval("SELECT status FROM accounts") == "pending"
