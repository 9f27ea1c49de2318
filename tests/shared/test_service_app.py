"""The shared app factory against real PostgreSQL and RabbitMQ."""

from __future__ import annotations

from pathlib import Path

from ebok_shared.service import ServiceSpec, create_service_app
from ebok_shared.settings import ServiceSettings

from tests.support.apps import serve


def _settings(database: str, amqp_url: str, prefix: str) -> ServiceSettings:
    return ServiceSettings.from_env(
        {}, database_url=database, amqp_url=amqp_url, bus_prefix=prefix,
        jwks_url="http://127.0.0.1:9/none",
    )


async def test_health_ready_and_metrics(database: str, amqp_url: str, bus_prefix: str, tmp_path: Path) -> None:
    spec = ServiceSpec(name="probe", migrations=tmp_path)
    async with serve(create_service_app(spec, _settings(database, amqp_url, bus_prefix))) as client:
        live = await client.get("/health/live")
        assert live.status == 200
        ready = await client.get("/health/ready")
        assert ready.status == 200
        assert (await ready.json())["checks"] == {"database": "ok", "broker": "ok"}
        metrics = await (await client.get("/metrics")).text()
        assert "ebok_outbox_backlog 0.0" in metrics
        assert 'ebok_http_requests_total{method="GET",route="/health/ready",status="200"}' in metrics


async def test_unknown_route_is_a_problem_not_a_login_prompt(
    database: str, amqp_url: str, bus_prefix: str, tmp_path: Path
) -> None:
    spec = ServiceSpec(name="probe", migrations=tmp_path)
    async with serve(create_service_app(spec, _settings(database, amqp_url, bus_prefix))) as client:
        resp = await client.get("/no/such/thing", headers={"X-Correlation-Id": "corr-1"})
        assert resp.status == 404
        assert resp.content_type == "application/problem+json"
        body = await resp.json()
        assert body["status"] == 404 and body["title"] == "Nie znaleziono"
        assert body["correlation_id"] == "corr-1"
        assert resp.headers["X-Correlation-Id"] == "corr-1"
