"""The headers some refusals carry besides the problem document: when to retry after a
rate limit, and how to authenticate again after a session ended."""

from __future__ import annotations

from tests.auth.harness import Auth


async def test_a_throttled_action_says_when_to_retry(auth: Auth) -> None:
    for _ in range(3):  # three reset requests per login and window are allowed
        status, _ = await auth.call("POST", "/password-resets", json_body={"login": "100009"})
        assert status == 202
    resp = await auth.client.post(
        "/password-resets", json={"login": "100009"}, headers={"X-Forwarded-For": "198.51.100.1"}
    )
    problem = await resp.json(content_type=None)
    assert resp.status == 429 and problem["code"] == "rate-limited"
    assert problem["detail"] == "Zbyt wiele prób. Spróbuj ponownie za chwilę."
    assert int(resp.headers["Retry-After"]) > 0
    assert "retry_after" not in problem  # a header, not a member of the problem


async def test_an_ended_session_asks_for_a_bearer_token_again(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    tokens = await auth.customer("100001", "Kropla-Deszczu-2026!x")
    status, _ = await auth.call("DELETE", "/sessions/current", token=tokens["access_token"])
    assert status == 204
    resp = await auth.client.get(
        "/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    problem = await resp.json(content_type=None)
    assert resp.status == 401 and problem["code"] == "session-ended"
    assert resp.headers["WWW-Authenticate"] == "Bearer"
