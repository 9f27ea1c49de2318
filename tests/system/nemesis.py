"""The nemesis: faults on a fixed seed, one at a time, each followed by its heal.

SIGKILL of a whole service process (``kill-service``), of a split service's relay alone
(``kill-relay``: between publishing and deleting, perhaps) or of its worker alone
(``kill-consumer``: consumers between commit and ack, the notifier's sender mid-send).

Every fault of the catalogue comes at least once in a schedule (in a seeded order, with seeded
durations and targets); the long schedule (``EBOK_SYSTEM_LONG=1``) goes round it several times.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from tests.e2e.stack import Stack
from tests.support.proxy import TcpProxy

from .history import History
from .infra import PrivatePostgres, RabbitNode

KILLABLE = ("auth", "readings", "correspondence", "notifier", "gateway")
# The services the suite runs split into roles (``serve --role``, see test_faults): a relay or
# a consumer can be killed alone while the service's HTTP part keeps answering.
SPLIT = ("readings", "notifier")
RELAYS = tuple(f"{name}-relay" for name in SPLIT)  # the outbox relay only
CONSUMERS = tuple(f"{name}-worker" for name in SPLIT)  # consumers and background loops
# name → what is broken; each takes its duration and returns the heal.
CATALOGUE = (
    "kill-service",
    "kill-service",
    "kill-relay",
    "kill-consumer",
    "broker-connections-closed",
    "broker-restart",
    "pg-connections-terminated",
    "pg-restart",
    "pg-proxy-delay",
    "pg-proxy-blackhole",
    "pg-proxy-reset",
    "pg-proxy-refuse",
    "amqp-proxy-blackhole",
    "amqp-proxy-reset",
    "smtp-down",
    "smtp-421",
    "smtp-550",
)


@dataclass(frozen=True)
class Fault:
    name: str
    duration: float  # seconds it lasts before the heal
    target: str = ""  # the killed service

    def __str__(self) -> str:
        return f"{self.name}{':' + self.target if self.target else ''} {self.duration:.1f}s"


def schedule(seed: int, rounds: int = 1, longest: float = 2.5) -> list[Fault]:
    """``rounds`` times the whole catalogue, each fault lasting 1 s to ``longest``."""
    rng = random.Random(seed)
    faults = []
    for _ in range(rounds):
        names = list(CATALOGUE)
        rng.shuffle(names)
        for name in names:
            targets = {"kill-service": KILLABLE, "kill-relay": RELAYS, "kill-consumer": CONSUMERS}
            target = rng.choice(targets[name]) if name in targets else ""
            faults.append(Fault(name, round(rng.uniform(1.0, longest), 1), target))
    return faults


@dataclass
class Nemesis:
    stack: Stack
    postgres: PrivatePostgres
    broker: RabbitNode
    pg_proxy: TcpProxy  # between readings and PostgreSQL
    amqp_proxy: TcpProxy  # between correspondence and RabbitMQ
    smtp_proxy: TcpProxy  # between the notifier and the SMTP sink
    history: History

    async def run(self, faults: list[Fault], gap: float = 0.5) -> None:
        for fault in faults:
            self.history.nemesis(str(fault), "start")
            heal = await self._break(fault)
            await asyncio.sleep(fault.duration)
            await heal()
            self.history.nemesis(str(fault), "healed")
            await asyncio.sleep(gap)

    async def _break(self, fault: Fault) -> Callable[[], Awaitable[None]]:
        name = fault.name
        if name in ("kill-service", "kill-relay", "kill-consumer"):
            return await self._kill(fault.target)
        if name == "broker-connections-closed":
            await asyncio.to_thread(
                self.broker.ctl, "close_all_connections", "system suite: nemesis"
            )
            return _nothing
        if name == "broker-restart":
            await asyncio.to_thread(self.broker.stop)
            return lambda: asyncio.to_thread(self.broker.start)
        if name == "pg-connections-terminated":
            await self._terminate_backends()
            return _nothing
        if name == "pg-restart":
            await asyncio.to_thread(self.postgres.stop, "immediate")
            return lambda: asyncio.to_thread(self.postgres.start)
        proxy_name, _, mode = name.partition("-proxy-")
        if mode:
            proxy = {"pg": self.pg_proxy, "amqp": self.amqp_proxy}[proxy_name]
            await proxy.set_mode(mode, delay=0.3)
            return lambda: proxy.set_mode("pass")
        if name.startswith("smtp-"):
            mode = {"smtp-down": "refuse", "smtp-421": "smtp-421", "smtp-550": "smtp-550"}[name]
            await self.smtp_proxy.set_mode(mode)
            return lambda: self.smtp_proxy.set_mode("pass")
        raise AssertionError(f"unknown fault {name}")

    async def _kill(self, service: str) -> Callable[[], Awaitable[None]]:
        child = self.stack.local.children[service]
        child.send(signal.SIGKILL)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(child.wait(), 10)

        async def restart() -> None:
            await self.stack.start_service(service)

        return restart

    async def _terminate_backends(self) -> None:
        conn = await asyncpg.connect(self.postgres.url)
        try:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
        finally:
            await conn.close()


async def _nothing() -> None:
    return None
