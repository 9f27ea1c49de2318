"""One aiohttp app factory for every service.

``create_service_app(spec, settings)`` wires what every service has: the database pool and
migrations at start-up, the bus connection, the outbox relay, the consumer of the events the
service subscribes to, health and metrics, and the middlewares. A service's own ``app.py``
passes its routes, subscriptions and any extra resources in a ``ServiceSpec``.

One process runs the role its settings name (``serve --role``, ``EBOK_ROLE``), so HTTP can
scale apart from queue work:

==========  =====================================================================================
role        runs (every role also: the pool, ``spec.contexts``, /health/*, /metrics)
==========  =====================================================================================
``api``     the service's HTTP routes; no broker connection (use cases only write the outbox)
``worker``  the consumer of ``spec.subscriptions``, ``spec.background`` loops, inbox pruning
``relay``   the outbox relay (and the back office's queue it publishes to)
``all``     all of the above in one process (the default: the local run, tests)
==========  =====================================================================================
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import aio_pika
import aiohttp
import asyncpg
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import db, revocation
from .api.types import Operation
from .bus import Catalogue, Consumer, Outbox, OutboxRelay, RetryPolicy, Subscription, Topology
from .bus.catalogue import default_catalogue
from .bus.consumer import prune_inbox
from .bus.outbox import backlog as outbox_backlog
from .http import batch, dead_letters, idempotency
from .http.answers import answer_check_middleware
from .http.hardening import harden_answers, request_guard_middleware
from .http.middleware import (
    auth_middleware,
    correlation_middleware,
    error_middleware,
    idempotency_middleware,
    metrics_middleware,
    public,
    role_middleware,
)
from .http.problems import Problem
from .http.refusal_audit import REFUSAL_AUDIT, RefusalAudit
from .http.tokens import TokenVerifier
from .logs import get_logger
from .loops import background, every, running
from .metrics import OUTBOX_BACKLOG
from .settings import SETTINGS, ServiceSettings

log = get_logger(__name__)

CleanupContext = Callable[[web.Application], Any]

S = TypeVar("S", bound=ServiceSettings)


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


@dataclass(frozen=True)
class Command(Generic[S]):
    """A service's own command line, ``python -m ebok_<service> NAME …``, beside the shared
    ``serve``, ``migrate`` and ``dlq``.

    ``run(args, settings)`` gets the parsed arguments and a loader of the service's settings
    (called only by commands that need them: reading the environment fails with the shared
    configuration error, exit code 2). It returns the process's exit code (None: 0).
    """

    help: str
    run: Callable[[argparse.Namespace, Callable[[], S]], int | None]
    arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments


@dataclass(frozen=True)
class ServiceSpec(Generic[S]):
    name: str  # "billing": its exchange is billing.events, its queue "billing"
    migrations: Path  # the service's own SQL migrations (the shared ones come first)
    routes: Sequence[web.AbstractRouteDef] = ()
    subscriptions: Sequence[Subscription] = ()
    contexts: Sequence[CleanupContext] = ()  # extra resources, started after the bus
    # Background loops (schedulers, senders) that belong with the queue work: started after
    # ``contexts`` in the roles "worker" and "all" only.
    background: Sequence[CleanupContext] = ()
    # Events the utility's back office (outside e-BOK) takes from this service; they wait
    # in the durable queue backoffice.<name>, declared at start-up (see declare_backoffice).
    backoffice_events: Sequence[str] = ()
    middlewares: Sequence[Any] = ()  # run after authentication, before the handler
    idempotency: bool = True  # answer retried POSTs with Idempotency-Key from this service's DB
    catalogue: Catalogue = field(default_factory=default_catalogue)
    # The token verifier; by default one that fetches auth's JWKS (auth passes its own keys).
    verifier: Callable[[S], TokenVerifier] | None = None
    # The service's own commands by name (see Command), added to the shared CLI.
    commands: Mapping[str, Command[S]] = field(default_factory=dict)
    # Refuse access tokens revoked early (logout, block, erasure): see ebok_shared.revocation.
    revocations: bool = True
    # The operators' dead-letter routes (http.dead_letters, admin role): every service; not
    # the gateway, whose every route is public and under /api/v1 (its `dlq` command remains).
    dead_letter_routes: bool = True
    # ``GET /batch``: several of the service's own reads in one call, for the gateway's
    # aggregated views (http.batch); not the gateway itself, whose routes are its own API.
    batch: bool = True
    # The service's part of the public API's contract (``ebok_shared.api.<name>``): with
    # ``check_answers`` set, every answer is checked against it (http/answers.py).
    contract: Mapping[tuple[str, str], Operation] = field(default_factory=dict)


@dataclass
class Bus:
    # None in the "api" role: it only writes outbox rows, the relay publishes them.
    connection: AbstractRobustConnection | None
    topology: Topology
    outbox: Outbox


def _runs(settings: ServiceSettings, part: str) -> bool:
    """Whether this process's role includes ``part`` ("api", "worker" or "relay")."""
    return settings.role in (part, "all")


SPEC = web.AppKey("spec", ServiceSpec)
POOL = web.AppKey("pool", asyncpg.Pool)
BUS = web.AppKey("bus", Bus)
HTTP = web.AppKey("http", aiohttp.ClientSession)
CONSUMER = web.AppKey("consumer", Consumer)
_STOPPING = web.AppKey("stopping", asyncio.Event)
_TASKS = web.AppKey("tasks", list)


def migration_folders(spec: ServiceSpec[Any]) -> list[tuple[str, Path]]:
    return [("shared", db.SHARED_MIGRATIONS), (spec.name, spec.migrations)]


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings, spec = app[SETTINGS], app[SPEC]
    pool = await db.create_pool(
        settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
    )
    if settings.migrate_at_start:
        try:
            async with pool.acquire() as conn:
                await db.migrate(conn, migration_folders(spec))
        except BaseException:
            await pool.close()
            raise
    app[POOL] = pool
    yield
    await _close_pool(pool)


async def _close_pool(pool: asyncpg.Pool) -> None:
    """Close gracefully, but never wait for ever on a connection someone still holds."""
    try:
        await asyncio.wait_for(pool.close(), timeout=10)
    except TimeoutError:
        log.warning("database pool did not close in time; terminating it")
        pool.terminate()


async def _bus(app: web.Application) -> AsyncIterator[None]:
    settings, spec = app[SETTINGS], app[SPEC]
    topology = Topology(settings.bus_prefix)
    if not (_runs(settings, "relay") or _runs(settings, "worker")):
        app[BUS] = Bus(None, topology, Outbox(spec.catalogue))
        app[REFUSAL_AUDIT] = RefusalAudit(spec.name, app[POOL], app[BUS].outbox)
        yield
        return
    connection = await aio_pika.connect_robust(
        settings.amqp_url, client_properties={"connection_name": f"{spec.name}:{settings.role}"}
    )
    async with contextlib.AsyncExitStack() as stack:
        # Unwound in reverse: the consumer stops, then the relay, then the connection closes
        # (bounded: a broker that vanished must not hold the process's exit).
        stack.push_async_callback(_close_bounded, connection)
        app[BUS] = Bus(connection, topology, Outbox(spec.catalogue))
        app[REFUSAL_AUDIT] = RefusalAudit(spec.name, app[POOL], app[BUS].outbox)
        if _runs(settings, "relay"):
            await declare_backoffice(connection, topology, spec.name, spec.backoffice_events)
            relay = OutboxRelay(
                settings.database_url,
                connection,
                topology=topology,
                batch_size=settings.relay_batch_size,
            )
            await stack.enter_async_context(running(f"relay:{spec.name}", relay.run()))
        if spec.subscriptions and _runs(settings, "worker"):
            consumer = Consumer(
                spec.name,
                pool=app[POOL],
                connection=connection,
                subscriptions=spec.subscriptions,
                topology=topology,
                catalogue=spec.catalogue,
                retry=RetryPolicy(delays=settings.retry_delays),
            )
            await consumer.start()
            stack.push_async_callback(consumer.stop)
            app[CONSUMER] = consumer
        yield


async def _close_bounded(connection: AbstractRobustConnection) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(connection.close(), timeout=5)


async def declare_backoffice(
    connection: AbstractRobustConnection, topology: Topology, producer: str, events: Sequence[str]
) -> None:
    """The back office's inbox for ``events``, declared by the publisher before its relay runs.

    The relay publishes with ``mandatory``: an event no queue takes is an error that holds the
    outbox. Declaring the back office's queue with the publisher means these events always
    have a queue, even before the back office first connects. Idempotent on every start.
    """
    if not events:
        return
    channel = await connection.channel()
    try:
        exchange = await channel.declare_exchange(
            topology.exchange(producer), aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(
            topology.backoffice_queue(producer), durable=True, arguments={"x-queue-type": "quorum"}
        )
        for event_type in events:
            await queue.bind(exchange, routing_key=event_type)
    finally:
        await channel.close()


async def _http_client(app: web.Application) -> AsyncIterator[None]:
    # One client session per process, with timeouts of our own (aiohttp's default is 5 min).
    session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=10, connect=2),
        connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=30),
    )
    app[HTTP] = session
    yield
    await session.close()


async def _prune(app: web.Application) -> None:
    """Prune the inbox and stored idempotent answers long after any retry could come, and
    ended sessions whose tokens have all expired."""
    await prune_inbox(app[POOL])
    await idempotency.prune(app[POOL])
    await revocation.prune(app[POOL])


async def _revocations(app: web.Application) -> AsyncIterator[None]:
    async with revocation.following(
        app[revocation.REVOCATIONS], app[SETTINGS].database_url, app[POOL]
    ):
        yield


_maintenance = background(
    "maintenance", lambda app: every("maintenance", 3600, lambda: _prune(app))
)


@public
async def live(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@public
async def ready(request: web.Request) -> web.Response:
    app = request.app
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(app[POOL].fetchval("SELECT 1"), timeout=2)
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready
        checks["database"] = f"unavailable: {type(exc).__name__}"
    connection = app[BUS].connection
    if connection is not None:  # the api role has none: it does not need the broker
        connected = not connection.is_closed and connection.connected.is_set()
        checks["broker"] = "ok" if connected else "unavailable"
    if app[_STOPPING].is_set():
        checks["process"] = "shutting down"
    failing = [name for name, state in checks.items() if state != "ok"]
    if not failing:
        return web.json_response({"status": "ok", "checks": checks})
    # 503 is a problem document like any other; ``checks`` stays for the orchestrator.
    errors = [{"field": name, "reason": _NOT_READY[name]} for name in failing]
    raise Problem(
        503,
        "Usługa nie jest gotowa: " + ", ".join(e["reason"] for e in errors) + ".",
        code="not-ready",
        errors=errors,
        checks=checks,
    )


_NOT_READY = {
    "database": "baza danych jest niedostępna",
    "broker": "broker komunikatów jest niedostępny",
    "process": "usługa jest zamykana",
}


@public
async def metrics(request: web.Request) -> web.Response:
    with contextlib.suppress(Exception):
        OUTBOX_BACKLOG.set(await asyncio.wait_for(outbox_backlog(request.app[POOL]), 2))
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _mark_stopping(app: web.Application) -> None:
    app[_STOPPING].set()


def create_service_app(spec: ServiceSpec[S], settings: S) -> web.Application:
    if spec.revocations:
        spec = dataclasses.replace(
            spec, subscriptions=revocation.with_revocations(spec.subscriptions)
        )
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[
            correlation_middleware,
            *([answer_check_middleware(spec.contract)] if settings.check_answers else []),
            metrics_middleware,
            error_middleware,
            request_guard_middleware,
            auth_middleware(
                spec.verifier(settings)
                if spec.verifier is not None
                else TokenVerifier(
                    settings.jwks_url,
                    issuer=settings.token_issuer,
                    audience=settings.token_audience,
                )
            ),
            *([revocation.revocation_middleware] if spec.revocations else []),
            role_middleware,
            *spec.middlewares,
            *([idempotency_middleware(lambda a: a[POOL])] if spec.idempotency else []),
        ],
    )
    shared: ServiceSettings = settings  # read back typed with e.g. BillingSettings.of(app)
    app[SETTINGS] = shared
    app[SPEC] = spec
    app[_STOPPING] = asyncio.Event()
    app.cleanup_ctx.extend([_database, _bus, _http_client, *spec.contexts])
    if _runs(settings, "worker"):
        app.cleanup_ctx.extend([_maintenance, *spec.background])
    if spec.revocations:
        app[revocation.REVOCATIONS] = revocation.Revocations()
        # Right after the database opens: loaded before any event or request comes.
        app.cleanup_ctx.insert(1, _revocations)
    app.on_shutdown.append(_mark_stopping)
    harden_answers(app)
    app.router.add_get("/health/live", live)
    app.router.add_get("/health/ready", ready)
    app.router.add_get("/metrics", metrics)
    if _runs(settings, "api"):
        app.router.add_routes(spec.routes)
        if spec.dead_letter_routes:
            app.router.add_routes(dead_letters.routes)
        if spec.batch:
            checking = answer_check_middleware(spec.contract) if settings.check_answers else None
            batch.install(app, checking)
    return app
