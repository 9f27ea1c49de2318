"""The gateway logs its access decisions (issue #15 item 6, ASVS 7.2.2): a customer on an
operator route, and each throttling decision (which rule, for whom) — not only a counter —
with the correlation id, never the token."""

from __future__ import annotations

from tests.gateway.conftest import Stack
from tests.support.logcapture import Captured


async def test_a_customer_on_an_operator_route_is_logged(stack: Stack, captured: Captured) -> None:
    headers = {**stack.issuer.customer("100007"), "X-Correlation-Id": "gw-walk-1"}
    resp = await stack.gw.get("/api/v1/operator/auth/accounts/100001", headers=headers)
    assert resp.status == 403
    out = captured.stdout.getvalue()
    assert headers["Authorization"].removeprefix("Bearer ") not in out
    (line,) = [line for line in captured.lines() if line["event"] == "authorisation refused"]
    assert line["actor"] == "customer:100007"
    assert line["route"] == "/api/v1/operator/auth/accounts/{client_number}"
    assert line["correlation_id"] == "gw-walk-1" and line["level"] == "warning"
    assert stack.raw == []


async def test_each_throttling_decision_is_logged_with_its_rule(
    stack: Stack, captured: Captured
) -> None:
    for _ in range(30):
        assert (await stack.gw.post("/api/v1/sessions", json={})).status == 200
    captured.lines()  # what came before the limit
    resp = await stack.gw.post(
        "/api/v1/sessions", json={}, headers={"X-Correlation-Id": "gw-throttle-1"}
    )
    assert resp.status == 429
    lines = captured.lines()
    (throttled,) = [line for line in lines if line["event"] == "throttled"]
    assert throttled["rule"] == "login" and throttled["limit"] == 30 and throttled["count"] == 31
    assert throttled["correlation_id"] == "gw-throttle-1"
    (refused,) = [line for line in lines if line["event"] == "throttling refused"]
    assert refused["status"] == 429 and refused["route"] == "/api/v1/sessions"
    assert refused["actor"] == "anonymous"
