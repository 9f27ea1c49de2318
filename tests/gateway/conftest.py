"""A gateway (two replicas) over real PostgreSQL, RabbitMQ and Redis, in front of stand-in
services: one aiohttp server answering every service's paths and counting the calls."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import aio_pika
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.typedefs import Handler
from ebok_gateway.app import create_app
from ebok_gateway.settings import GatewaySettings
from ebok_shared.http import batch

from tests.support.apps import serve
from tests.support.tokens import Issuer, running_issuer

SERVICES = ("auth", "billing", "readings", "correspondence", "notifier")


def gateway_settings(
    issuer: Issuer,
    database: str,
    amqp_url: str,
    bus_prefix: str,
    *,
    upstream: str | None = None,
    **overrides: Any,
) -> GatewaySettings:
    """A test gateway's settings: its own database, bus prefix and rate-limit keys, tokens from
    ``issuer``; every service at ``upstream`` (a stand-in) unless ``overrides`` name one."""
    urls = {f"{s}_url": upstream for s in SERVICES} if upstream else {}
    return GatewaySettings.from_env(
        {},
        database_url=database,
        amqp_url=amqp_url,
        bus_prefix=bus_prefix,
        jwks_url=issuer.jwks_url,
        rate_limit_prefix=f"ebok:test:{uuid.uuid4().hex}:",
        **{**urls, **overrides},
    )


async def _upstream(
    routes: dict[str, Handler],
    calls: Counter[str],
    raw: list[str] | None = None,
    *,
    batches: bool = True,
    requests: Counter[str] | None = None,
) -> TestServer:
    """A stand-in for the services: ``calls`` counts each route asked (a batch's parts each),
    ``requests`` each HTTP request by path; without ``batches``, as a release before them."""

    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        if requests is not None:
            requests[request.path] += 1
        # A batch's parts count as the calls they stand for (each its service's own route).
        asked = request.query.getall("part") if batches and request.path == batch.PATH else [None]
        for part in asked:
            calls[request.path if part is None else part.partition("?")[0]] += 1
            if raw is not None:  # as it came, before any decoding
                raw.append(request.rel_url.raw_path if part is None else part)
        return await handler(request)

    app = web.Application(middlewares=[count])
    if batches:
        batch.install(app)  # as every service has it (ebok_shared.http.batch)
    for path, handler in routes.items():
        app.router.add_route("*", path, handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


async def _ok(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "path": request.path,
            "raw_path": request.rel_url.raw_path,
            "auth": request.headers.get("Authorization", ""),
        }
    )


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.json_response({})


class Stack:
    def __init__(
        self,
        issuer: Issuer,
        replicas: list[TestClient],
        upstream: TestServer,
        pg: str,
        calls: Counter[str],
        amqp: aio_pika.abc.AbstractConnection,
        bus_prefix: str,
        raw: list[str],
    ):
        self.issuer, self.replicas, self.upstream, self.pg = issuer, replicas, upstream, pg
        self.calls, self.amqp, self.bus_prefix = calls, amqp, bus_prefix
        self.raw = raw  # every path the stand-in services were called at, still encoded

    @property
    def gw(self) -> TestClient:
        return self.replicas[0]


@pytest.fixture
async def stack(database: str, amqp_url: str, bus_prefix: str) -> AsyncIterator[Stack]:
    async with AsyncExitStack() as exits, running_issuer() as issuer:
        # As billing lists them (views.invoice_item): the number is "invoice_number".
        invoices = [
            {"invoice_number": "12345626010001"},
            {"invoice_number": "12345626020001"},
        ]

        async def invoice_list(_: web.Request) -> web.Response:
            return web.json_response({"items": invoices})

        calls: Counter[str] = Counter()
        raw: list[str] = []
        upstream = await _upstream(
            {
                "/me": _ok,
                "/me/contracts": _ok,
                "/me/balance": _slow,
                "/me/invoices": invoice_list,
                "/me/invoices/{n}": _ok,
                "/me/password": _ok,
                "/sessions": _ok,
                "/operator/sessions": _ok,
                "/me/e-invoice": _ok,
                "/me/correspondence": _ok,
                # Everything else a service serves, as its raw path: what the gateway sent.
                "/{tail:.*}": _ok,
            },
            calls,
            raw,
        )
        exits.push_async_callback(upstream.close)
        base = str(upstream.make_url("")).rstrip("/")
        settings = gateway_settings(
            issuer,
            database,
            amqp_url,
            bus_prefix,
            upstream=base,
            readings_url="http://127.0.0.1:9",
            dashboard_budget=1.0,
            dashboard_part_timeout=0.5,
            cors_origins=("https://ebok.example.pl",),
        )
        replicas = [await exits.enter_async_context(serve(create_app(settings))) for _ in range(2)]
        amqp = await aio_pika.connect(amqp_url)
        exits.push_async_callback(amqp.close)
        yield Stack(issuer, replicas, upstream, database, calls, amqp, bus_prefix, raw)
