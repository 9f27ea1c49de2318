"""The one harness for starting a service in tests: its real app (built by the service's own
factory from its settings: its spec's consumers and relay run as in production) served in
this process on a real port, against the test's own database and bus prefix; a broker
connection to put other services' events on the bus; optionally a tap on the events it
publishes; and on the way out, whatever it declared under the prefix deleted.

Per-service harnesses are thin layers on top: their settings for tests, and helpers that
really are their own (e.g. "a client with an invoice")."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import aio_pika
import asyncpg
from aio_pika.abc import AbstractConnection, AbstractRobustConnection
from aiohttp import web
from aiohttp.test_utils import TestClient
from ebok_shared.bus import Event, Outbox, RetryPolicy, Topology
from ebok_shared.service import BUS, POOL, SPEC, ServiceSpec
from ebok_shared.settings import ServiceSettings

from tests.support.apps import serve
from tests.support.bus import consumer_queues, delete_bus_objects
from tests.support.events import publish_event
from tests.support.tap import EventTap
from tests.support.tokens import Issuer
from tests.support.waiting import eventually

S = TypeVar("S", bound=ServiceSettings)

# Short delays, so a retry or an outage takes a second, not an hour.
# Every answer a service gives in a test is checked against its contract (ebok_shared.api).
TEST_SETTINGS: dict[str, Any] = {
    "retry_delays": (0.2, 0.4),
    "shutdown_timeout": 5.0,
    "check_answers": True,
}


def settings_for_test(
    settings_type: type[S],
    database: str,
    amqp_url: str,
    prefix: str,
    jwks_url: str = "http://127.0.0.1:9/none",  # nothing listens: no token is trusted
    **overrides: Any,
) -> S:
    """A service's settings for one test: its database and bus prefix, short delays, and
    ``overrides``. A service's own defaults for tests: ``partial(settings_for_test, its
    settings type, **defaults)``."""
    values: dict[str, Any] = {
        "database_url": database,
        "amqp_url": amqp_url,
        "bus_prefix": prefix,
        "jwks_url": jwks_url,
        **TEST_SETTINGS,
        **overrides,
    }
    return settings_type.from_env({}, **values)


@dataclass
class RunningService(Generic[S]):
    """A service under test."""

    client: TestClient
    settings: S
    connection: AbstractRobustConnection  # the test's own, to publish other services' events
    _issuer: Issuer | None = None
    _tap: EventTap | None = None

    @property
    def issuer(self) -> Issuer:
        """The token helper the service trusts (customer/operator/service headers)."""
        assert self._issuer is not None, "started without an issuer"
        return self._issuer

    @property
    def tap(self) -> EventTap:
        """What the service published (started with ``tap=`` or ``tap_queue=``)."""
        assert self._tap is not None, "started without a tap"
        return self._tap

    @property
    def app(self) -> web.Application:
        # TestClient.app is Optional in its stubs; a server client always has it
        return self.client.app  # type: ignore[return-value]

    @property
    def pool(self) -> asyncpg.Pool:
        return self.app[POOL]

    @property
    def outbox(self) -> Outbox:
        return self.app[BUS].outbox

    @property
    def topology(self) -> Topology:
        return Topology(self.settings.bus_prefix)

    async def publish(self, event: Event) -> Event:
        """Put an event on its producer's exchange, as that producer's relay does."""
        return await publish_event(self.connection, self.settings.bus_prefix, event)

    async def emit(self, event_type: str, payload: dict[str, Any]) -> Event:
        return await self.publish(Event.new(event_type, payload))

    @property
    def spec(self) -> ServiceSpec[Any]:
        return self.app[SPEC]

    async def consumed(self, event: Event) -> None:
        """Wait until the service's consumer has applied ``event`` (its inbox has it)."""
        name = self.spec.name
        await eventually(
            lambda: self.pool.fetchval(
                "SELECT true FROM inbox WHERE consumer = $1 AND event_id = $2", name, event.id
            ),
            f"{name} to consume {event.type}",
        )

    async def settled(self) -> None:
        """Wait until the relay has published everything committed so far."""
        await eventually(
            lambda: self.pool.fetchval("SELECT count(*) = 0 FROM outbox"), "outbox drained"
        )


R = TypeVar("R", bound=RunningService[Any])


@asynccontextmanager
async def running_service(
    create_app: Callable[[S], web.Application],
    settings: S,
    issuer: Issuer | None = None,
    *,
    tap: Sequence[str] = (),
    tap_queue: Callable[[Topology], str] | None = None,
    # the default of a TypeVar-typed parameter: mypy cannot bind R to it
    service_type: type[R] = RunningService,  # type: ignore[assignment]
) -> AsyncIterator[R]:
    """Start the service ``create_app(settings)`` builds (trusting ``issuer``'s tokens, if
    given), with a tap bound to the exchanges of the producers in ``tap`` (before the app
    starts) or on the queue ``tap_queue`` names (once it started); yields a ``service_type``
    (a per-service subclass of RunningService, with that service's own helpers). A service's
    own way to start: ``partial(running_service, its create_app, tap=…, service_type=…)``."""
    if issuer is not None:
        settings = dataclasses.replace(settings, jwks_url=issuer.jwks_url)
    topology = Topology(settings.bus_prefix)
    connection = await aio_pika.connect_robust(settings.amqp_url)
    app = create_app(settings)
    spec = app[SPEC]
    taps: list[EventTap] = []
    try:
        if tap:
            taps.append(await EventTap.bound(connection, topology, tap))
        async with serve(app) as client:
            if tap_queue is not None:
                taps.append(await EventTap.on_queue(connection, tap_queue(topology)))
            yield service_type(client, settings, connection, issuer, taps[0] if taps else None)
    finally:
        for each in taps:
            await each.close()
        await delete_service_bus(connection, settings, spec, extra_producers=tap)
        await connection.close()


@asynccontextmanager
async def service_bus(
    settings: ServiceSettings, spec: ServiceSpec[Any], *, tap: Sequence[str] = ()
) -> AsyncIterator[tuple[AbstractRobustConnection, EventTap | None]]:
    """For a service run as a process: the test's broker connection and, with ``tap``, a tap
    bound to those producers' exchanges before the service starts (its relay publishes
    mandatory); what the service declared under the prefix deleted on the way out."""
    connection = await aio_pika.connect_robust(settings.amqp_url)
    bound = await EventTap.bound(connection, Topology(settings.bus_prefix), tap) if tap else None
    try:
        yield connection, bound
    finally:
        if bound is not None:
            await bound.close()
        await delete_service_bus(connection, settings, spec, extra_producers=tap)
        await connection.close()


async def delete_service_bus(
    connection: AbstractConnection,
    settings: ServiceSettings,
    spec: ServiceSpec,
    *,
    extra_producers: Sequence[str] = (),
) -> None:
    """What a service declared under the test's prefix: its queues (consumer, retry tiers,
    dead letters, the back office's) and the exchanges of its own and its producers."""
    topology = Topology(settings.bus_prefix)
    queues = [
        *consumer_queues(topology, spec.name, RetryPolicy(delays=settings.retry_delays)),
        topology.backoffice_queue(spec.name),
    ]
    producers = {
        spec.name,
        *extra_producers,
        *(s.event_type.split(".", 1)[0] for s in spec.subscriptions),
    }
    await delete_bus_objects(connection, queues, [topology.exchange(p) for p in sorted(producers)])
