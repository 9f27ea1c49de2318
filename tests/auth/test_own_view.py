"""``GET /me``: the customer's own view, read in one statement with the liveness of the
caller's session. Each way a session stops being live ends access to the view at once, as on
every other route of auth (``live_principal``), before the account itself is looked at."""

from __future__ import annotations

from tests.auth.harness import Auth

PASSWORD = "Kropla-Deszczu-2026!x"


async def _signed_in(auth: Auth) -> tuple[str, str]:
    """A customer's access token and its session id."""
    await auth.client_with_invoice("100001")
    tokens = await auth.customer("100001", PASSWORD)
    sid = await auth.pool.fetchval(
        "SELECT id::text FROM sessions WHERE subject = '100001' AND revoked_at IS NULL"
        " ORDER BY created_at DESC LIMIT 1"
    )
    return tokens["access_token"], sid


async def _refused(auth: Auth, token: str) -> dict:
    resp = await auth.client.get("/me", headers={"Authorization": f"Bearer {token}"})
    problem = await resp.json(content_type=None)
    assert resp.status == 401, problem
    assert problem["code"] == "session-ended"
    return problem


async def test_the_view_of_a_live_session(auth: Auth) -> None:
    token, _ = await _signed_in(auth)
    resp = await auth.client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    assert resp.headers["Cache-Control"] == "no-store"
    view = await resp.json()
    assert view["client_number"] == "100001" and view["status"] == "active"
    assert view["regulations"]["accepted_version"] == view["regulations"]["current_version"] == 1


async def test_a_session_ended_in_the_database_is_refused_at_once(auth: Auth) -> None:
    """Ended without an event (the shared revocation list never hears of it): auth's own
    look at the session refuses it, with the header asking for a token again."""
    token, sid = await _signed_in(auth)
    await auth.pool.execute("UPDATE sessions SET revoked_at = now() WHERE id = $1::uuid", sid)
    problem = await _refused(auth, token)
    assert problem["detail"] == "Sesja wygasła lub została zakończona. Zaloguj się ponownie."


async def test_an_idle_or_expired_session_is_refused(auth: Auth) -> None:
    token, sid = await _signed_in(auth)
    await auth.pool.execute(
        "UPDATE sessions SET last_seen_at = now() - interval '31 minutes' WHERE id = $1::uuid",
        sid,
    )
    await _refused(auth, token)
    await auth.pool.execute(
        "UPDATE sessions SET last_seen_at = now(), expires_at = now() - interval '1 second'"
        " WHERE id = $1::uuid",
        sid,
    )
    await _refused(auth, token)
    await auth.pool.execute(
        "UPDATE sessions SET expires_at = now() + interval '1 hour' WHERE id = $1::uuid", sid
    )
    assert (await auth.call("GET", "/me", token=token))[0] == 200


async def test_a_session_of_another_subject_is_no_session_of_this_one(auth: Auth) -> None:
    token, sid = await _signed_in(auth)
    await auth.pool.execute("UPDATE sessions SET subject = '100002' WHERE id = $1::uuid", sid)
    await _refused(auth, token)


async def test_a_live_session_of_an_account_gone_is_refused(auth: Auth) -> None:
    token, _ = await _signed_in(auth)
    await auth.pool.execute("DELETE FROM accounts WHERE client_number = '100001'")
    problem = await _refused(auth, token)
    assert problem["detail"] == "Konto nie istnieje."
