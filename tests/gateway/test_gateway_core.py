"""The gateway's own mechanisms over real PostgreSQL, RabbitMQ and Redis: portal switches and
revocations on every replica, rate limits across replicas, restricted sessions, the
dashboard's time budget, security headers and CORS.

The services behind it are stand-in aiohttp servers here (their real APIs are tested in
their own suites and end to end); what is under test is the gateway.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import time
import uuid

import asyncpg
import pytest
import redis.asyncio as redis
from aiohttp import web
from aiohttp.test_utils import TestClient
from ebok_gateway import ratelimit
from ebok_gateway.ratelimit import RateLimiter, Rule
from ebok_gateway.settings import GatewaySettings
from ebok_shared.http.problems import Problem
from ebok_shared.redis_lane import RedisLane
from ebok_shared.revocation.repository import revoke_sessions, revoke_subject

from tests.gateway.conftest import Stack
from tests.support.tokens import Issuer, bearer
from tests.support.waiting import eventually


async def test_proxy_forwards_the_callers_token_and_strips_the_prefix(stack: Stack) -> None:
    resp = await stack.gw.get("/api/v1/me/contracts", headers=stack.issuer.customer("123456"))
    assert resp.status == 200
    body = await resp.json()
    assert body["path"] == "/me/contracts"
    assert body["auth"].startswith("Bearer ")


async def test_customer_route_refuses_anonymous_and_forged_tokens(stack: Stack) -> None:
    assert (await stack.gw.get("/api/v1/me/contracts")).status == 401
    other = Issuer()  # a key the gateway never saw
    forged = other.customer("123456")
    resp = await stack.gw.get("/api/v1/me/contracts", headers=forged)
    assert resp.status == 401
    assert resp.content_type == "application/problem+json"


async def test_operator_routes_refuse_customer_tokens(stack: Stack) -> None:
    resp = await stack.gw.get(
        "/api/v1/operator/portal-settings", headers=stack.issuer.customer("123456")
    )
    assert resp.status == 403
    assert (
        await stack.gw.get("/api/v1/operator/portal-settings", headers=stack.issuer.operator())
    ).status == 200


async def test_first_login_session_can_only_change_the_password(stack: Stack) -> None:
    restricted = stack.issuer.customer("123456", restrictions=["password_change"])
    refused = await stack.gw.get("/api/v1/me/contracts", headers=restricted)
    assert refused.status == 403
    assert (await refused.json())["code"] == "password-change-required"
    allowed = await stack.gw.put("/api/v1/me/password", headers=restricted, json={})
    assert allowed.status == 200
    dashboard = await stack.gw.get("/api/v1/me/dashboard", headers=restricted)
    assert dashboard.status == 403


async def test_operator_logs_in_and_sets_own_password_through_the_gateway(stack: Stack) -> None:
    """Operators sign in (with TOTP) at /api/v1/operator/sessions; a first-login operator
    token may change its password, but reaches no operator route until it has."""
    login = await stack.gw.post("/api/v1/operator/sessions", json={})
    assert login.status == 200
    assert (await login.json())["path"] == "/operator/sessions"
    token = stack.issuer.token(
        "op-2", kind="operator", roles=["operator"], restrictions=["password_change"]
    )
    restricted = bearer(token)
    refused = await stack.gw.get("/api/v1/operator/portal-settings", headers=restricted)
    assert refused.status == 403
    assert (await refused.json())["code"] == "password-change-required"
    changed = await stack.gw.put("/api/v1/me/password", headers=restricted, json={})
    assert changed.status == 200
    assert (await changed.json())["path"] == "/me/password"
    assert (
        await stack.gw.get("/api/v1/me/contracts", headers=stack.issuer.operator())
    ).status == 403


async def test_section_switched_off_holds_on_every_replica_within_a_second(stack: Stack) -> None:
    a, b = stack.replicas
    resp = await a.put(
        "/api/v1/operator/portal-settings/sections/contracts",
        headers=stack.issuer.operator(),
        json={"mode": "off", "message": "Przerwa techniczna do godz. 12:00."},
    )
    assert resp.status == 200

    async def refused_on_b() -> bool:
        r = await b.get("/api/v1/me/contracts", headers=stack.issuer.customer("123456"))
        return r.status == 503

    await eventually(refused_on_b, within=1.0, step=0.02)
    body = await (
        await b.get("/api/v1/me/contracts", headers=stack.issuer.customer("123456"))
    ).json()
    assert body["detail"] == "Przerwa techniczna do godz. 12:00."
    assert body["code"] == "section-suspended"


async def test_read_only_section_allows_reading_but_not_changing(stack: Stack) -> None:
    await stack.gw.put(
        "/api/v1/operator/portal-settings/sections/e_invoices",
        headers=stack.issuer.operator(),
        json={"mode": "read_only"},
    )
    assert (
        await stack.gw.get("/api/v1/me/e-invoice", headers=stack.issuer.customer("123456"))
    ).status == 200
    resp = await stack.gw.put(
        "/api/v1/me/e-invoice", headers=stack.issuer.customer("123456"), json={}
    )
    assert resp.status == 423
    assert (await resp.json())["code"] == "section-read-only"
    # Anyone may ask each section's state (a front end then shows the data without forms).
    states = await (await stack.gw.get("/api/v1/portal/sections")).json()
    by_section = {s["section"]: s for s in states["sections"]}
    assert by_section["e_invoices"]["mode"] == "read_only"
    assert by_section["invoices"]["mode"] == "on"
    assert "hidden_items" not in states  # they name customers' invoices


async def test_hidden_invoice_disappears_from_list_and_detail(stack: Stack) -> None:
    billing = stack.issuer.operator("op-1", ("billing",))  # hiding an invoice is the billing role's
    resp = await stack.gw.put(
        "/api/v1/operator/portal-settings/sections/invoices/items/12345626010001",
        headers=billing,
        json={"hidden": True},
    )
    assert resp.status == 200
    hidden = await stack.gw.get("/api/v1/operator/portal-settings/hidden-items", headers=billing)
    assert (await hidden.json())["items"] == [{"section": "invoices", "item_id": "12345626010001"}]
    listing = await (
        await stack.gw.get("/api/v1/me/invoices", headers=stack.issuer.customer("123456"))
    ).json()
    assert [i["invoice_number"] for i in listing["items"]] == ["12345626020001"]
    detail = await stack.gw.get(
        "/api/v1/me/invoices/12345626010001", headers=stack.issuer.customer("123456")
    )
    assert detail.status == 404
    history = await (
        await stack.gw.get(
            "/api/v1/operator/portal-settings/history", headers=stack.issuer.operator()
        )
    ).json()
    assert history["items"][0]["changed_by"] == "op-1"


async def test_blocked_account_token_refused_on_every_replica_within_a_second(stack: Stack) -> None:
    # Issued seconds before the block (one from the block's own second is judged by its
    # session, which a real block ends too: see ebok_shared.revocation).
    headers = stack.issuer.customer("654321", iat=int(time.time()) - 5)
    for replica in stack.replicas:
        assert (await replica.get("/api/v1/me/contracts", headers=headers)).status == 200
    conn = await asyncpg.connect(stack.pg)
    try:
        await revoke_subject(conn, "customer:654321", dt.datetime.now(dt.UTC), "blocked")
    finally:
        await conn.close()
    for replica in stack.replicas:

        async def refused(r: TestClient = replica) -> bool:
            return (await r.get("/api/v1/me/contracts", headers=headers)).status == 401

        await eventually(refused, within=1.0, step=0.02)
    # a token issued after the block (e.g. after unblocking) is not affected
    await asyncio.sleep(1.1)
    assert (
        await stack.gw.get("/api/v1/me/contracts", headers=stack.issuer.customer("654321"))
    ).status == 200


async def test_logged_out_session_refused(stack: Stack) -> None:
    sid = uuid.uuid4().hex
    headers = stack.issuer.customer("123456", sid=sid)
    assert (await stack.gw.get("/api/v1/me/contracts", headers=headers)).status == 200
    conn = await asyncpg.connect(stack.pg)
    try:
        await revoke_sessions(conn, [sid], dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    finally:
        await conn.close()

    async def refused() -> bool:
        return (await stack.gw.get("/api/v1/me/contracts", headers=headers)).status == 401

    await eventually(refused, within=1.0, step=0.02)


async def test_login_rate_limit_holds_across_replicas(stack: Stack) -> None:
    statuses = []
    for i in range(32):
        replica = stack.replicas[i % 2]
        statuses.append((await replica.post("/api/v1/sessions", json={})).status)
    assert statuses[:30] == [200] * 30
    assert statuses[30:] == [429, 429]
    resp = await stack.gw.post("/api/v1/sessions", json={})
    assert int(resp.headers["Retry-After"]) > 0
    assert "Zbyt wiele prób" in (await resp.json())["detail"]


async def test_dashboard_answers_within_budget_with_parts_unavailable(stack: Stack) -> None:
    started = time.monotonic()
    resp = await stack.gw.get("/api/v1/me/dashboard", headers=stack.issuer.customer("123456"))
    elapsed = time.monotonic() - started
    assert resp.status == 200
    view = await resp.json()
    assert view["contracts"]["status"] == "ok"
    assert view["balance"]["status"] == "unavailable"  # slower than its timeout
    assert view["meters"]["status"] == "unavailable"  # readings is down
    assert (
        elapsed < 5
    )  # far from the slow part's 5 s: the budget cut it (not a timing assert on speed)


async def test_security_headers_and_cors(stack: Stack) -> None:
    resp = await stack.gw.get(
        "/api/v1/me/contracts",
        headers={**stack.issuer.customer("123456"), "Origin": "https://ebok.example.pl"},
    )
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Access-Control-Allow-Origin"] == "https://ebok.example.pl"
    evil = await stack.gw.get(
        "/api/v1/regulations/current", headers={"Origin": "https://evil.example"}
    )
    assert "Access-Control-Allow-Origin" not in evil.headers
    preflight = await stack.gw.options(
        "/api/v1/me/invoices",
        headers={"Origin": "https://ebok.example.pl", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status == 204
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]


async def test_upload_over_route_limit_refused_before_reading_it_all(stack: Stack) -> None:
    resp = await stack.gw.post(
        "/api/v1/me/email-change",
        headers={**stack.issuer.customer("123456"), "Content-Type": "application/json"},
        data=b"x" * (2 * 1024 * 1024),
    )
    assert resp.status == 413
    assert resp.content_type == "application/problem+json"


async def test_openapi_documents_every_route(stack: Stack) -> None:
    from ebok_gateway.app import SPEC

    table = SPEC.routes

    resp = await stack.gw.get("/api/v1/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"] == "3.1.0"
    served = {
        (r.method.lower(), r.path) for r in table if isinstance(r, web.RouteDef) and r.method != "*"
    }
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert served <= documented, served - documented
    for required in [
        "/api/v1/me/dashboard",
        "/api/v1/me/invoices/{number}/pdf",
        "/api/v1/sessions",
    ]:
        assert required in doc["paths"]


async def test_block_event_from_auth_ends_live_tokens_on_every_replica(
    stack: Stack, amqp_url: str, bus_prefix: str
) -> None:
    """The real path: auth's event on the bus → the gateway's consumer → every replica."""
    import aio_pika
    from ebok_shared.bus import Event

    headers = stack.issuer.customer("777001")
    assert (await stack.gw.get("/api/v1/me/contracts", headers=headers)).status == 200
    # A block covers tokens issued in whole seconds before it (one from the block's own
    # second may be a new login after an unblock; auth ends those by session id): block
    # in the next second, as any real block after a login is.
    await asyncio.sleep(1.05 - time.time() % 1)
    event = Event.new(
        "auth.account.blocked",
        {
            "client_number": "777001",
            "email": "jan@example.pl",
            "reason": "Naruszenie regulaminu (IV.3)",
            "by": "operator:op-1",
        },
    )
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await channel.get_exchange(f"{bus_prefix}auth.events")
        await exchange.publish(
            aio_pika.Message(event.to_json(), message_id=str(event.id), type=event.type),
            routing_key=event.type,
            mandatory=True,
        )
    finally:
        await connection.close()
    for replica in stack.replicas:

        async def refused(r: TestClient = replica) -> bool:
            return (await r.get("/api/v1/me/contracts", headers=headers)).status == 401

        await eventually(refused, within=3.0, step=0.02)


async def test_general_limits_count_address_and_account_in_one_call() -> None:
    settings = GatewaySettings.from_env({}, database_url="postgresql://unused@127.0.0.1/none")
    client = redis.from_url(settings.redis_url)  # the Redis every gateway test uses
    lane = RedisLane(settings.redis_url, timeout=5)
    prefix = f"ebok:test:{uuid.uuid4().hex}:"
    limiter = RateLimiter(lane, prefix)
    ip, account = Rule("ip", 4, 60), Rule("account", 2, 60)
    try:
        for _ in range(2):
            await limiter.hit((ip, "198.51.100.1"), (account, "customer:123456"))
        with pytest.raises(Problem) as refused:
            await limiter.hit((ip, "198.51.100.1"), (account, "customer:123456"))
        assert refused.value.status == 429
        assert int(refused.value.headers["Retry-After"]) > 0
        # another account from the same address: only the address's count (now 4) holds it
        await limiter.hit((ip, "198.51.100.1"), (account, "customer:654321"))
        with pytest.raises(Problem):
            await limiter.hit((ip, "198.51.100.1"), (account, "customer:111111"))
        # every counter goes with its window: none is kept past the window and a second
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        assert len(keys) == 4
        ttls = [await client.ttl(key) for key in keys]
        assert all(0 < ttl <= 61 for ttl in ttls), ttls
    finally:
        lane.close()
        await client.aclose()


async def test_a_script_redis_does_not_know_is_sent_whole_then_called_by_its_digest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Redis that does not know the counting script (restarted, SCRIPT FLUSH) gets it
    whole: the request is counted all the same, and the next calls go by the digest."""
    settings = GatewaySettings.from_env({}, database_url="postgresql://unused@127.0.0.1/none")
    unknown = ratelimit._COUNT + f"-- {uuid.uuid4().hex}\n"  # a digest Redis has never seen
    monkeypatch.setattr(ratelimit, "_COUNT", unknown)
    lane = RedisLane(settings.redis_url, timeout=5)
    client = redis.from_url(settings.redis_url)
    prefix = f"ebok:test:{uuid.uuid4().hex}:"
    limiter = RateLimiter(lane, prefix)
    rule = Rule("ip", 2, 60)
    try:
        assert await client.script_exists(limiter._sha) == [False]
        await limiter.hit((rule, "198.51.100.2"))
        assert await client.script_exists(limiter._sha) == [True]
        await limiter.hit((rule, "198.51.100.2"))
        with pytest.raises(Problem) as refused:
            await limiter.hit((rule, "198.51.100.2"))
        assert refused.value.status == 429
    finally:
        lane.close()
        await client.aclose()


async def test_a_limiter_without_redis_lets_requests_through_and_counts_it() -> None:
    """Redis unreachable: the limit is not enforced (an outage of the limiter must not take
    the portal down), the error counted."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    lane = RedisLane(f"redis://127.0.0.1:{port}/0", timeout=0.5)
    limiter = RateLimiter(lane, "ebok:test:down:")
    before = ratelimit.LIMITER_ERRORS._value.get()
    try:
        for _ in range(3):
            await limiter.hit((Rule("ip", 1, 60), "198.51.100.3"))
    finally:
        lane.close()
    assert ratelimit.LIMITER_ERRORS._value.get() == before + 3
