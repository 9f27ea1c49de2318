"""A tiny real service built with ``create_service_app``, for tests of the shared library.

Run in the test process with :func:`running_probe`, or as a process of its own with
``python -m tests.support.probe_service`` (the same ``EBOK_*`` variables as any service).
Its routes (all under ``/probe``) exist only to exercise the shared mechanisms: a slow
request, a request that lasts until shutdown has begun, writes that count rows (for
idempotency), a handler that crashes, a JSON-schema-validated body, the caller's principal.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from ebok_shared import cli
from ebok_shared.http.middleware import public, require
from ebok_shared.http.validation import read_json
from ebok_shared.logs import get_logger
from ebok_shared.service import POOL, ServiceSpec, create_service_app
from ebok_shared.settings import ServiceSettings

from tests.support.apps import serve

log = get_logger("probe")

SHUTTING_DOWN = web.AppKey("probe_shutting_down", asyncio.Event)
GATES = web.AppKey("probe_gates", dict)  # name -> (entered, release) events, in-process tests
KINDS = ("customer", "operator", "service")

WRITE_SCHEMA = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 50}},
}

PROBE_SCHEMA = {
    "type": "object",
    "required": ["client_number", "amount", "delivery"],
    "additionalProperties": False,
    "properties": {
        "client_number": {"type": "string", "pattern": "^\\d{6}$"},
        "amount": {"type": "integer", "minimum": 1},
        "delivery": {"enum": ["e-mail", "paper"]},
        "note": {"type": "string", "maxLength": 10},
        "email": {"type": "string", "format": "email"},
        "sent_at": {"type": "string", "format": "date-time"},
    },
}

routes = web.RouteTableDef()


@routes.get("/probe/slow")
@public
async def slow(request: web.Request) -> web.Response:
    seconds = float(request.query.get("seconds", "1.5"))
    log.info("slow request started", seconds=seconds)
    await asyncio.sleep(seconds)
    return web.json_response({"slept": seconds})


@routes.get("/probe/drain")
@public
async def drain(request: web.Request) -> web.Response:
    """Lasts until shutdown has begun, then works ``seconds`` more: always in flight at SIGTERM."""
    seconds = float(request.query.get("seconds", "1.0"))
    log.info("drain request started")
    await asyncio.wait_for(request.app[SHUTTING_DOWN].wait(), timeout=60)
    await asyncio.sleep(seconds)
    log.info("drain request finished")
    return web.json_response({"drained": True})


@routes.get("/probe/boom")
@public
async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("secret internals: password=hunter2 at /srv/probe.py")


@routes.post("/probe/validated")
@public
async def validated(request: web.Request) -> web.Response:
    return web.json_response(await read_json(request, PROBE_SCHEMA))


@routes.get("/probe/whoami")
async def whoami(request: web.Request) -> web.Response:
    principal = require(request, *KINDS)
    return web.json_response(
        {"subject": principal.subject, "kind": principal.kind, "roles": sorted(principal.roles)}
    )


async def _insert(request: web.Request, table: str, name: str) -> int:
    principal = require(request, *KINDS)
    async with request.app[POOL].acquire() as conn:
        await conn.execute(
            f"INSERT INTO {table} (name, principal) VALUES ($1, $2)", name, principal.subject
        )
        count: int = await conn.fetchval(f"SELECT count(*) FROM {table} WHERE name = $1", name)
    return count


@routes.post("/probe/writes")
async def write(request: web.Request) -> web.Response:
    """Writes one row; answers how many rows bear this name."""
    body = await read_json(request, WRITE_SCHEMA)
    count = await _insert(request, "probe_writes", body["name"])
    return web.json_response(
        {"name": body["name"], "count": count},
        status=201,
        headers={"Location": f"/probe/writes/{body['name']}/{count}"},
    )


@routes.post("/probe/attempts")
async def attempt(request: web.Request) -> web.Response:
    """Records the attempt; the first attempt for a name crashes (500), later ones succeed."""
    body = await read_json(request, WRITE_SCHEMA)
    count = await _insert(request, "probe_writes", body["name"])
    if count == 1:
        raise RuntimeError("first attempt fails")
    return web.json_response({"attempts": count}, status=201)


@routes.post("/probe/redirect")
async def redirect(request: web.Request) -> web.Response:
    """Writes one row and answers 303 See Other (raised, as aiohttp allows)."""
    body = await read_json(request, WRITE_SCHEMA)
    count = await _insert(request, "probe_writes", body["name"])
    raise web.HTTPSeeOther(location=f"/probe/writes/{body['name']}/{count}")


@routes.post("/probe/gated")
async def gated(request: web.Request) -> web.Response:
    """Signals that it started, waits until the test releases it, then writes one row."""
    body = await read_json(request, WRITE_SCHEMA)
    entered, release = request.app[GATES].setdefault(
        body["name"], (asyncio.Event(), asyncio.Event())
    )
    entered.set()
    await asyncio.wait_for(release.wait(), timeout=30)
    count = await _insert(request, "probe_writes", body["name"])
    return web.json_response({"count": count}, status=201)


async def _tables(app: web.Application) -> AsyncIterator[None]:
    await app[POOL].execute(
        """CREATE TABLE IF NOT EXISTS probe_writes (
               id bigserial PRIMARY KEY,
               name text NOT NULL,
               principal text NOT NULL)"""
    )
    yield


async def _shutting_down(app: web.Application) -> None:
    log.info("probe shutting down")
    app[SHUTTING_DOWN].set()


SPEC: ServiceSpec[ServiceSettings] = ServiceSpec(
    name="probe",
    migrations=Path(__file__).parent,  # holds no .sql file: the probe has no migrations
    routes=list(routes),
    contexts=[_tables],
)


def create_app(settings: ServiceSettings) -> web.Application:
    app = create_service_app(SPEC, settings)
    app[SHUTTING_DOWN] = asyncio.Event()
    app[GATES] = {}
    app.on_shutdown.append(_shutting_down)  # after the library's own (readiness → 503)
    return app


def probe_settings(
    database: str,
    amqp_url: str,
    bus_prefix: str,
    *,
    jwks_url: str = "http://127.0.0.1:9/none",  # nothing listens: no token is trusted
    **overrides: Any,
) -> ServiceSettings:
    return ServiceSettings.from_env(
        {},
        database_url=database,
        amqp_url=amqp_url,
        bus_prefix=bus_prefix,
        jwks_url=jwks_url,
        **overrides,
    )


@asynccontextmanager
async def running_probe(
    database: str, amqp_url: str, bus_prefix: str, **settings: Any
) -> AsyncIterator[TestClient]:
    """The probe served in this process on a real port, against the given database and broker."""
    async with serve(
        create_app(probe_settings(database, amqp_url, bus_prefix, **settings))
    ) as client:
        yield client


@asynccontextmanager
async def running_routes(
    routes: web.RouteTableDef,
    migrations: Path,
    database: str,
    amqp_url: str,
    bus_prefix: str,
    **settings: Any,
) -> AsyncIterator[TestClient]:
    """A service of just ``routes`` (its migrations: the folder ``migrations``, e.g. an empty
    one), built by the real ``create_service_app`` and served like the probe."""
    spec: ServiceSpec[ServiceSettings] = ServiceSpec(
        name="probe", migrations=migrations, routes=list(routes)
    )
    app = create_service_app(spec, probe_settings(database, amqp_url, bus_prefix, **settings))
    async with serve(app) as client:
        yield client


def main() -> None:
    cli.main(SPEC, ServiceSettings, create_app)


if __name__ == "__main__":
    main()
