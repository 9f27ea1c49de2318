"""The shared app factory against real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestServer
from ebok_shared.db import MigrationError
from ebok_shared.http.middleware import public
from ebok_shared.service import ServiceSpec, create_service_app
from ebok_shared.settings import ServiceSettings
from prometheus_client import REGISTRY

from tests.support import infra
from tests.support.apps import serve


def _settings(database: str, amqp_url: str, prefix: str) -> ServiceSettings:
    return ServiceSettings.from_env(
        {},
        database_url=database,
        amqp_url=amqp_url,
        bus_prefix=prefix,
        jwks_url="http://127.0.0.1:9/none",
    )


async def test_health_ready_and_metrics(
    database: str, amqp_url: str, bus_prefix: str, tmp_path: Path
) -> None:
    spec: ServiceSpec[ServiceSettings] = ServiceSpec(name="probe", migrations=tmp_path)
    async with serve(create_service_app(spec, _settings(database, amqp_url, bus_prefix))) as client:
        live = await client.get("/health/live")
        assert live.status == 200
        ready = await client.get("/health/ready")
        assert ready.status == 200
        assert (await ready.json())["checks"] == {"database": "ok", "broker": "ok"}
        metrics = await (await client.get("/metrics")).text()
        assert "ebok_outbox_backlog 0.0" in metrics
        assert (
            'ebok_http_requests_total{method="GET",route="/health/ready",status="200"}' in metrics
        )


async def test_unknown_route_is_a_problem_not_a_login_prompt(
    database: str, amqp_url: str, bus_prefix: str, tmp_path: Path
) -> None:
    spec: ServiceSpec[ServiceSettings] = ServiceSpec(name="probe", migrations=tmp_path)
    async with serve(create_service_app(spec, _settings(database, amqp_url, bus_prefix))) as client:
        resp = await client.get("/no/such/thing", headers={"X-Correlation-Id": "corr-1"})
        assert resp.status == 404
        assert resp.content_type == "application/problem+json"
        body = await resp.json()
        assert body["status"] == 404 and body["title"] == "Nie znaleziono"
        assert body["correlation_id"] == "corr-1"
        assert resp.headers["X-Correlation-Id"] == "corr-1"


async def _block_database(admin_dsn: str, name: str, *, allow: bool) -> None:
    """Allow or refuse connections to ``name``; refusing also ends the ones it has."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:  # the timeout makes each call wait until that backend has exited
            await conn.execute(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
    finally:
        await conn.close()


async def test_ready_is_a_503_problem_naming_the_database_when_it_is_unreachable(
    services: infra.Services, database: str, amqp_url: str, bus_prefix: str, tmp_path: Path
) -> None:
    name = urlsplit(database).path.lstrip("/")
    spec: ServiceSpec[ServiceSettings] = ServiceSpec(name="probe", migrations=tmp_path)
    async with serve(create_service_app(spec, _settings(database, amqp_url, bus_prefix))) as client:
        assert (await client.get("/health/ready")).status == 200

        await _block_database(services.pg_admin_dsn, name, allow=False)
        try:
            for _ in range(2):  # the dead connections, then the refused new ones
                resp = await client.get("/health/ready")
                assert resp.status == 503
                assert resp.content_type == "application/problem+json"
                body = await resp.json()
                assert body["code"] == "not-ready"
                assert body["errors"] == [
                    {"field": "database", "reason": "baza danych jest niedostępna"}
                ]
                assert body["detail"] == "Usługa nie jest gotowa: baza danych jest niedostępna."
                assert body["checks"]["database"].startswith("unavailable: ")
                assert body["checks"]["broker"] == "ok"
            assert (await client.get("/health/live")).status == 200  # alive, only not ready
        finally:
            await _block_database(services.pg_admin_dsn, name, allow=True)

        for _ in range(100):  # the pool reconnects on its next use
            if (await client.get("/health/ready")).status == 200:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("ready did not recover once the database was back")


async def test_ready_is_503_once_shutdown_has_begun(
    database: str, amqp_url: str, bus_prefix: str, tmp_path: Path
) -> None:
    spec: ServiceSpec[ServiceSettings] = ServiceSpec(name="probe", migrations=tmp_path)
    app = create_service_app(spec, _settings(database, amqp_url, bus_prefix))
    async with serve(app) as client:
        await app.shutdown()  # what the runner calls on SIGTERM, before draining requests
        resp = await client.get("/health/ready")
        assert resp.status == 503
        body = await resp.json()
        assert body["checks"] == {"database": "ok", "broker": "ok", "process": "shutting down"}
        assert body["errors"] == [{"field": "process", "reason": "usługa jest zamykana"}]


async def test_a_missing_migrations_folder_stops_start_up(
    database: str, amqp_url: str, bus_prefix: str, tmp_path: Path
) -> None:
    spec: ServiceSpec[ServiceSettings] = ServiceSpec(
        name="probe", migrations=tmp_path / "no-such-folder"
    )
    server = TestServer(create_service_app(spec, _settings(database, amqp_url, bus_prefix)))
    try:
        with pytest.raises(MigrationError, match="no such folder"):
            await server.start_server()
    finally:
        await server.close()


async def test_each_request_logs_with_its_own_correlation_id_and_leaves_none_behind(
    database: str, amqp_url: str, bus_prefix: str, tmp_path: Path
) -> None:
    """The middleware binds the correlation id for the request's log lines and unbinds it
    after (by token): the next request on the same connection starts from a clean context."""
    routes = web.RouteTableDef()

    @routes.get("/probe/context")
    @public
    async def context(request: web.Request) -> web.Response:
        return web.json_response(structlog.contextvars.get_contextvars())

    spec: ServiceSpec[ServiceSettings] = ServiceSpec(
        name="probe", migrations=tmp_path, routes=list(routes)
    )
    async with serve(create_service_app(spec, _settings(database, amqp_url, bus_prefix))) as client:
        first = await client.get("/probe/context", headers={"X-Correlation-Id": "corr-first"})
        assert (await first.json())["correlation_id"] == "corr-first"
        second = await client.get("/probe/context")
        bound = await second.json()
        assert bound["correlation_id"] == second.headers["X-Correlation-Id"] != "corr-first"
        assert "principal" not in bound


async def test_request_metrics_count_every_request_of_a_route(
    database: str, amqp_url: str, bus_prefix: str, tmp_path: Path
) -> None:
    """The series of a method, route and status are looked up once and then reused: every
    request still counts, under its own status."""
    spec: ServiceSpec[ServiceSettings] = ServiceSpec(name="probe", migrations=tmp_path)
    labels = {"method": "GET", "route": "/health/live", "status": "200"}
    counted = REGISTRY.get_sample_value("ebok_http_requests_total", labels) or 0.0
    timed = (
        REGISTRY.get_sample_value(
            "ebok_http_request_duration_seconds_count", {"method": "GET", "route": "/health/live"}
        )
        or 0.0
    )
    async with serve(create_service_app(spec, _settings(database, amqp_url, bus_prefix))) as client:
        for _ in range(3):
            assert (await client.get("/health/live")).status == 200
        assert (await client.post("/health/live")).status == 405
    assert REGISTRY.get_sample_value("ebok_http_requests_total", labels) == counted + 3
    assert (
        REGISTRY.get_sample_value(
            "ebok_http_request_duration_seconds_count", {"method": "GET", "route": "/health/live"}
        )
        == timed + 3
    )
    assert REGISTRY.get_sample_value(
        "ebok_http_requests_total", {"method": "POST", "route": "unmatched", "status": "405"}
    )
