"""``serve --role``: one service split into api, worker and relay processes against the real
PostgreSQL and RabbitMQ, each doing its part and nothing else, together doing all of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from ebok_shared.bus import Event, RetryPolicy, Subscription, Topology
from ebok_shared.config import ConfigError
from ebok_shared.service import BUS, POOL, ServiceSpec, create_service_app
from ebok_shared.settings import ServiceSettings

from tests.support.apps import serve
from tests.support.bus import (
    CATALOGUE,
    INCREMENTED,
    PRODUCER,
    connect,
    consumer_queues,
    delete_bus_objects,
    prepare_database,
    record,
)
from tests.support.waiting import eventually

STARTED = web.AppKey("roles_background_started", list)


async def _ping(request: web.Request) -> web.Response:
    return web.json_response({"pong": True})


async def _background(app: web.Application) -> AsyncIterator[None]:
    app[STARTED].append("loop")
    yield


def _spec(tmp_path: Path) -> ServiceSpec[ServiceSettings]:
    from ebok_shared.http.middleware import public

    return ServiceSpec(
        name="counter",
        migrations=tmp_path,
        routes=[web.get("/ping", public(_ping))],
        subscriptions=[Subscription(INCREMENTED, record)],
        background=[_background],
        catalogue=CATALOGUE,
    )


def _app(
    spec: ServiceSpec[ServiceSettings], settings: ServiceSettings, role: str
) -> web.Application:
    app = create_service_app(
        spec, ServiceSettings.from_env({}, **{**_fields(settings), "role": role})
    )
    app[STARTED] = []
    return app


def _fields(settings: ServiceSettings) -> dict[str, object]:
    return {
        "database_url": settings.database_url,
        "amqp_url": settings.amqp_url,
        "bus_prefix": settings.bus_prefix,
        "jwks_url": settings.jwks_url,
        "retry_delays": settings.retry_delays,
    }


async def test_api_worker_and_relay_each_do_their_part(
    database: str, amqp_url: str, bus_prefix: str, tmp_path: Path
) -> None:
    await prepare_database(database)
    spec = _spec(tmp_path)
    base = ServiceSettings.from_env(
        {},
        database_url=database,
        amqp_url=amqp_url,
        bus_prefix=bus_prefix,
        jwks_url="http://127.0.0.1:9/none",
        retry_delays=(0.2,),
    )
    topology = Topology(bus_prefix)
    connection = await connect(amqp_url)
    try:
        async with serve(_app(spec, base, "api")) as api:
            # The api serves the routes, needs no broker, and runs no background loop.
            assert (await api.get("/ping")).status == 200
            ready = await api.get("/health/ready")
            assert ready.status == 200
            assert (await ready.json())["checks"] == {"database": "ok"}
            assert api.app[BUS].connection is None and api.app[STARTED] == []
            event = Event.new(INCREMENTED, {"n": 1})
            async with api.app[POOL].acquire() as conn, conn.transaction():
                await api.app[BUS].outbox.add_events(conn, [(event, None)])

            async with serve(_app(spec, base, "worker")) as worker:
                # The worker consumes and runs the background loops; it has no routes of the
                # service and no relay: the event waits in the outbox.
                assert (await worker.get("/ping")).status == 404
                ready = await worker.get("/health/ready")
                assert (await ready.json())["checks"] == {"database": "ok", "broker": "ok"}
                assert worker.app[STARTED] == ["loop"]
                await asyncio.sleep(2)  # the relay would have woken on NOTIFY by now
                assert await worker.app[POOL].fetchval("SELECT count(*) FROM outbox") == 1

                async with serve(_app(spec, base, "relay")) as relay:
                    assert (await relay.get("/ping")).status == 404
                    assert relay.app[STARTED] == []
                    # The relay publishes, the worker applies: the whole path, split in three.
                    await eventually(
                        lambda: relay.app[POOL].fetchval(
                            "SELECT count(*) = 1 FROM applied WHERE event_id = $1", event.id
                        ),
                        "the worker to apply the event the relay published",
                    )
                    # (The relay deletes the batch once the broker confirmed it: maybe after.)
                    await eventually(
                        lambda: relay.app[POOL].fetchval("SELECT count(*) = 0 FROM outbox"),
                        "the relay to delete what it published",
                    )
    finally:
        await delete_bus_objects(
            connection,
            consumer_queues(topology, "counter", RetryPolicy(delays=(0.2,))),
            [topology.exchange(PRODUCER)],
        )
        await connection.close()


async def test_migrations_at_start_can_be_left_to_the_migrate_job(
    database: str, amqp_url: str, bus_prefix: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_things.sql").write_text("CREATE TABLE things (id int PRIMARY KEY);\n")
    # Without the revocation list: it reads shared tables that only a migration makes (a pod
    # starts after the migrate job, behind `migrate --wait`; here there is no schema at all).
    spec: ServiceSpec[ServiceSettings] = ServiceSpec(
        name="probe", migrations=tmp_path, revocations=False
    )
    settings = ServiceSettings.from_env(
        {"EBOK_MIGRATE_AT_START": "false", "EBOK_ROLE": "api"},
        database_url=database,
        amqp_url=amqp_url,
        bus_prefix=bus_prefix,
    )
    async with serve(create_service_app(spec, settings)) as client:
        assert await client.app[POOL].fetchval("SELECT to_regclass('things') IS NULL")


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(ConfigError, match="EBOK_ROLE: expected api, worker, relay, all"):
        ServiceSettings.from_env({"EBOK_ROLE": "web"}, database_url="postgresql://x/y")
