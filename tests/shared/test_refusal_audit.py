"""Refused access becomes an audit event (``security.access.refused`` in the service's own
outbox), at most one per actor, method, route and status a minute, the rest counted into the
next one (``ebok_shared.http.refusal_audit``). The probe is the real ``create_service_app``
over real PostgreSQL, in the "api" role (no relay: the events stay in the outbox to read)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from ebok_shared.clock import clock
from ebok_shared.http.middleware import require
from ebok_shared.http.roles import ADMIN, operator_role
from ebok_shared.service import POOL

from tests.support.tokens import Issuer

routes = web.RouteTableDef()
PROBE_SETTINGS = {"role": "api"}  # no relay: the events stay in the outbox to read


@routes.get("/operator/operators")
@operator_role(ADMIN)
async def admins_only(request: web.Request) -> web.Response:
    return web.json_response([])


@routes.get("/me")
async def me(request: web.Request) -> web.Response:
    require(request, "customer")
    return web.json_response({})


async def _refusals(client: TestClient) -> list[dict[str, Any]]:
    assert client.app is not None
    pool = client.app[POOL]
    rows = await pool.fetch(
        "SELECT body FROM outbox WHERE event_type = 'security.access.refused' ORDER BY id"
    )
    return [json.loads(bytes(r["body"]))["payload"] for r in rows]


async def test_a_role_refusal_is_an_audit_event_and_a_flood_is_counted_not_written(
    probe: tuple[TestClient, Issuer],
) -> None:
    client, issuer = probe
    clerk = issuer.operator("anna.nowak", roles=("customer_service",))
    token = clerk["Authorization"].removeprefix("Bearer ")
    now = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    clock.freeze(now)
    try:
        for _ in range(5):  # five refusals in the minute: one event
            resp = await client.get(
                "/operator/operators", headers={**clerk, "X-Correlation-Id": "walk-7"}
            )
            assert resp.status == 403
        assert (await client.get("/me")).status == 401  # another key: its own event
        first = await _refusals(client)
        assert first == [
            {
                "service": "probe",
                "actor": "operator:anna.nowak",
                "method": "GET",
                "route": "/operator/operators",
                "status": 403,
                "problem": "role-required",
                "count": 1,
                "correlation_id": "walk-7",
            },
            {
                "service": "probe",
                "actor": "anonymous",
                "method": "GET",
                "route": "/me",
                "status": 401,
                "problem": "unauthorized",
                "count": 1,
                "correlation_id": first[1]["correlation_id"],
            },
        ]
        clock.freeze(now + dt.timedelta(seconds=61))  # the next minute: the four counted
        assert (await client.get("/operator/operators", headers=clerk)).status == 403
        latest = (await _refusals(client))[-1]
        assert (latest["actor"], latest["count"]) == ("operator:anna.nowak", 5)
        assert token not in json.dumps(await _refusals(client))  # never the token
    finally:
        clock.reset()
