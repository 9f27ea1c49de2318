"""What the shared app factory gives every service and the gateway (issue #15 items 6, 7, 9,
14): requests that used to fail deep inside with a 500 are 400 problems naming the part; every
answer is no-store by default and names no framework; every refused access is logged with
who, which route and the correlation id — never the token.

The probe service is the real ``create_service_app`` over real PostgreSQL and RabbitMQ; its
handlers do what the services' handlers do with such input (a query parameter into SQL, a
password into a hasher's encoding)."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from ebok_shared.http.hardening import harden_answers
from ebok_shared.http.middleware import public, require
from ebok_shared.http.problems import Problem
from ebok_shared.http.validation import read_json
from ebok_shared.refusals import Refusal
from ebok_shared.service import POOL

from tests.support import answers
from tests.support.apps import serve
from tests.support.logcapture import Captured
from tests.support.tokens import Issuer

routes = web.RouteTableDef()
PASSWORD = {"type": "object", "properties": {"password": {"type": "string"}}}


@routes.get("/operator/search")
async def operator_search(request: web.Request) -> web.Response:
    require(request, "operator", "customer")
    found = await request.app[POOL].fetchval("SELECT $1::text", request.query.get("q", ""))
    return web.json_response({"q": found})


@routes.post("/sessions")
@public
async def log_in(request: web.Request) -> web.Response:
    body = await read_json(request, PASSWORD)
    body["password"].encode()  # what a password hasher does first
    return web.json_response({"access_token": "…"}, status=201)


@routes.get("/operator/things")
async def operator_things(request: web.Request) -> web.Response:
    require(request, "operator")
    return web.json_response({})


@routes.get("/me/invoices/{number}")
async def own_invoice(request: web.Request) -> web.Response:
    principal = require(request, "customer")
    if request.match_info["number"] != principal.subject + "26010001":
        raise Problem(404)  # not theirs: the services answer 404, never 403
    return web.json_response({})


@routes.get("/me/attempts")
async def throttled(request: web.Request) -> web.Response:
    require(request, "customer")
    raise Refusal(429, "rate-limited", "Zbyt wiele prób.")


@routes.get("/regulations/current")
@public
async def cacheable(request: web.Request) -> web.Response:
    return web.json_response({}, headers={"Cache-Control": "public, max-age=60"})


async def test_a_non_ascii_authorization_header_is_a_400_problem(
    probe: tuple[TestClient, Issuer],
) -> None:
    client, _ = probe
    for value in ("Bearer żółw", "Bearer \udcff\udcfe"):
        raw = value.encode("utf-8", "surrogateescape")
        resp = await client.get(
            "/operator/search", headers={"Authorization": raw.decode("latin-1")}
        )
        problem = await answers.problem(resp, 400)
        assert problem["errors"] == [
            {"field": "Authorization", "reason": "nagłówek może zawierać tylko znaki ASCII"}
        ]


async def test_json_nested_a_thousand_deep_is_a_400_problem(
    probe: tuple[TestClient, Issuer],
) -> None:
    client, _ = probe
    for depth in (33, 1000, 100_000):
        body = '{"password": ' + "[" * depth + "]" * depth + "}"
        resp = await client.post(
            "/sessions", data=body, headers={"Content-Type": "application/json"}
        )
        problem = await answers.problem(resp, 400)
        assert problem["code"] == "malformed-json"
        # a problem is a dict[str, object]; its errors are a list of dicts
        assert "zagnieżdżony" in problem["errors"][0]["reason"]  # type: ignore[index]
    ok = await client.post("/sessions", json={"password": "Wiosna2024", "x": [[[1]]]})
    assert ok.status == 201


async def test_a_lone_surrogate_or_nul_in_a_password_is_a_400_problem(
    probe: tuple[TestClient, Issuer],
) -> None:
    client, _ = probe
    for escaped in ("\\ud800", "abc\\udfffdef", "a\\u0000b"):
        resp = await client.post(
            "/sessions",
            data='{"password": "' + escaped + '"}',
            headers={"Content-Type": "application/json"},
        )
        problem = await answers.problem(resp, 400)
        # a problem is a dict[str, object]; its errors are a list of dicts
        assert problem["errors"][0]["field"] == "password"  # type: ignore[index]
    resp = await client.post(
        "/sessions",
        data=json.dumps({"\ud800": "x"}, ensure_ascii=True),
        headers={"Content-Type": "application/json"},
    )
    await answers.problem(resp, 400)


async def test_a_nul_byte_in_a_search_parameter_is_a_400_problem(
    probe: tuple[TestClient, Issuer],
) -> None:
    client, issuer = probe
    for query in ("q=Kowal%00ski", "q=%00", "q=%01"):
        resp = await client.get(f"/operator/search?{query}", headers=issuer.operator())
        problem = await answers.problem(resp, 400)
        assert problem["errors"] == [{"field": "q", "reason": "niedozwolony znak"}]
    ok = await client.get("/operator/search?q=Kowalski", headers=issuer.operator())
    assert (await ok.json()) == {"q": "Kowalski"}


async def test_answers_are_no_store_by_default_and_name_no_framework(
    probe: tuple[TestClient, Issuer],
) -> None:
    client, issuer = probe
    answers = [
        await client.post("/sessions", json={"password": "Wiosna2024"}),
        await client.get("/operator/things", headers=issuer.customer()),  # a problem too
        await client.get("/health/live"),
    ]
    for resp in answers:
        assert resp.headers["Cache-Control"] == "no-store", resp.url
        assert "Server" not in resp.headers, resp.headers["Server"]
    own = await client.get("/regulations/current")
    assert own.headers["Cache-Control"] == "public, max-age=60"  # a handler's choice stays
    assert "Server" not in own.headers


async def test_refused_access_is_logged_with_actor_route_and_correlation_id(
    probe: tuple[TestClient, Issuer], captured: Captured
) -> None:
    client, issuer = probe
    customer = issuer.customer("100001")
    token = customer["Authorization"].removeprefix("Bearer ")
    cid = {"X-Correlation-Id": "walk-1"}

    await answers.problem(await client.get("/operator/things", headers={**customer, **cid}), 403)
    await answers.problem(
        await client.get("/me/invoices/20000226010001", headers={**customer, **cid}), 404
    )
    await answers.problem(await client.get("/me/attempts", headers={**customer, **cid}), 429)
    await answers.problem(await client.get("/operator/things", headers=cid), 401)
    assert (await client.get("/me/invoices/10000126010001", headers=customer)).status == 200

    out = captured.stdout.getvalue()
    assert token not in out and token[-20:] not in out  # never the token
    refused = [line for line in captured.lines() if line["event"].endswith(" refused")]
    assert [(r["event"], r["status"], r["actor"], r["route"]) for r in refused] == [
        ("authorisation refused", 403, "customer:100001", "/operator/things"),
        ("authorisation refused", 404, "customer:100001", "/me/invoices/{number}"),
        ("throttling refused", 429, "customer:100001", "/me/attempts"),
        ("authentication refused", 401, "anonymous", "/operator/things"),
    ]
    assert {r["correlation_id"] for r in refused} == {"walk-1"}
    assert {r["level"] for r in refused} == {"warning"}


async def _raw_answer(client: TestClient, request: bytes) -> bytes:
    """What the server answers to ``request`` sent as bytes on a socket of its own."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(request)
        await writer.drain()
        return await reader.readuntil(b"\r\n\r\n")
    finally:
        writer.close()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /health/live HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",  # space in the name
        b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",  # a control character in the target
        b"GET /health/live HTTP/9.9\r\nHost: x\r\n\r\n",  # no such version
        b"GET /health/live HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # TLS at a plain port
    ],
)
async def test_the_frameworks_own_answer_to_a_malformed_request_names_no_server(
    probe: tuple[TestClient, Issuer], request_bytes: bytes
) -> None:
    """aiohttp answers a request it cannot parse itself, before any of our code runs (no
    route, no middleware, no on_response_prepare): that answer must name no framework
    either."""
    client, _ = probe
    head = await _raw_answer(client, request_bytes)
    status_line, _, headers = head.partition(b"\r\n")
    assert status_line.split(b" ")[1].startswith(b"4"), head  # refused, by aiohttp itself
    names = [line.split(b":", 1)[0].strip().lower() for line in headers.split(b"\r\n") if line]
    assert b"server" not in names, head
    assert b"aiohttp" not in head.lower() and b"python" not in head.lower(), head


async def test_the_portals_malformed_request_answer_names_no_server_either() -> None:
    """The portal (web/) is no service app: it calls harden_answers itself, without the
    default no-store."""

    async def page_handler(request: web.Request) -> web.Response:
        return web.Response(text="strona")

    app = web.Application()
    harden_answers(app, cache_control=False)
    app.router.add_get("/", page_handler)
    async with serve(app) as client:
        page = await client.get("/")
        assert page.status == 200 and "Server" not in page.headers
        head = await _raw_answer(client, b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")
        assert b" 400 " in head.split(b"\r\n")[0], head
        assert b"\r\nserver:" not in head.lower(), head


async def test_a_requests_own_values_read_with_get_and_in_as_a_mapping_reads_them() -> None:
    """The app's requests answer ``get`` and ``in`` from their own values (no KeyError raised
    and caught for a key not set): the same answers as any mapping's."""
    seen = web.RequestKey("seen", str)
    answers_seen: list[object] = []

    async def page_handler(request: web.Request) -> web.Response:
        answers_seen.append((request.get(seen), request.get(seen, "none"), seen in request))
        request[seen] = "yes"
        answers_seen.append((request.get(seen), request.get(seen, "none"), seen in request))
        del request[seen]
        answers_seen.append((request.get(seen), seen in request, len(request)))
        return web.Response(text="strona")

    app = web.Application()
    harden_answers(app, cache_control=False)
    app.router.add_get("/", page_handler)
    async with serve(app) as client:
        assert (await client.get("/")).status == 200
    assert answers_seen == [(None, "none", False), ("yes", "yes", True), (None, False, 0)]
