"""The whole of e-BOK as real processes, for end-to-end tests and the gateway benchmark.

It is the local run's own machinery (``deploy.local.LocalStack`` over ``deploy.plan`` and
``deploy.processes``): every service's database created (and migrated by the service as it
starts: ``TestStack``), the SMTP sink, the five services and the gateway started as child
processes and awaited on ``/health/ready``.
Each stack keeps apart from anything else on the machine: its own block of ports, bus prefix,
database names, Redis prefix and Maildir. Unlike ``make run`` a child that dies is not fatal
here: single services can be stopped (SIGTERM) and started again while the rest runs.
Everything it started is stopped, and every database it created dropped, on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from ebok_shared import db

from deploy import checks
from deploy.checks import busy_ports
from deploy.local import LocalStack, StartupFailed
from deploy.plan import SERVICES, Component, StackConfig
from deploy.processes import Child, Output, run_to_end, terminate
from tests.support import bus, infra
from tests.support.waiting import eventually

COMPONENTS = ("gateway", *SERVICES, "web")


# A stack's ports lie 0 to 30 above its base, and its SMTP sink's 6,975 below it. Bases 40
# apart from 26,000 keep every block apart from every other and every sink's port below them
# all; the highest port stays below Linux's ephemeral range (32768+), where clients and other
# tests' servers bind.
_BASES = range(26000, 32700, 40)


def free_base_port() -> int:
    """A base port whose whole block (gateway, services, web, sink, sandbox) is free. Each
    test process (pytest-xdist worker) draws from its own share of the bases: a block free
    when looked at may be one another process has just chosen and not yet bound (a sink
    that then fails to bind, while the stack waits on the other stack's sink, seen in CI)."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    own = _BASES[worker % workers :: workers]
    for _ in range(100):
        base = random.choice(own)
        if not busy_ports(StackConfig(base_port=base)):
            return base
    raise RuntimeError("no free block of ports for an e-BOK stack")


@dataclass
class Stack:
    """A running stack: its configuration, its processes and where its output goes."""

    local: LocalStack
    log_path: Path
    _output: Output = field(repr=False)

    @property
    def config(self) -> StackConfig:
        return self.local.config

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.config.port('gateway')}"

    @property
    def portal_url(self) -> str:
        return f"http://127.0.0.1:{self.config.port('web')}"

    @property
    def api(self) -> str:
        return self.gateway_url + "/api/v1"

    @property
    def maildir(self) -> Path:
        return self.config.maildir

    def component(self, name: str) -> Component:
        return next(c for c in self.local.components if c.name == name)

    def database_url(self, name: str) -> str:
        return self.config.database_url(name)

    def tail(self, lines: int = 80) -> str:
        text = self.log_path.read_text("utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])

    # -- one service at a time ----------------------------------------------------------------
    async def stop_service(self, name: str) -> None:
        """SIGTERM the service and wait until it has exited (SIGKILL after the stop timeout)."""
        child = self.local.children[name]
        killed = await terminate([child], self.config.stop_timeout)
        if killed:
            raise RuntimeError(f"{name} did not stop on SIGTERM and was killed")

    async def start_service(self, name: str) -> None:
        """Start the service again (same command, port, database) and wait until ready."""
        component = self.component(name)
        child = Child(name, self.local.children[name].argv, component.env, self._output)
        await child.start()
        self.local.children[name] = child
        await wait_ready(component, child, self.config.ready_timeout)

    async def settled(self) -> None:
        """Wait until every event committed so far has been published and taken by its
        consumers (a late one would still change what the gateway keeps)."""
        names = [c.name for c in self.local.components if c.database]
        conns = [await db.connect(self.database_url(name)) for name in names]
        try:
            # Each outbox asked over one connection per database, kept for the whole wait.
            with_outbox = [c for c in conns if await c.fetchval("SELECT to_regclass('outbox')")]

            async def outboxes_empty() -> bool:
                for conn in with_outbox:
                    if await conn.fetchval("SELECT EXISTS (SELECT FROM outbox)"):
                        return False
                return True

            await eventually(outboxes_empty, "every outbox published")
        finally:
            for conn in conns:
                await conn.close()

        def queues_empty() -> bool:
            left = infra.undelivered(self.config.amqp_url, self.config.bus_prefix)
            return left is None or left == 0

        await eventually(lambda: asyncio.to_thread(queues_empty), "every event consumed", step=0.5)

    # -- one-off commands -------------------------------------------------------------------
    async def run(self, component: str, *args: str) -> tuple[int, list[str]]:
        """``python -m <component's module> ARGS`` with the component's environment: the exit
        code and what it printed."""
        target = self.component(component)
        argv = [sys.executable, "-m", target.module, *args]
        child = Child(component, argv, target.env, self._output, keep_lines=500)
        code = await run_to_end(child)
        return code, list(child.last_lines)


async def wait_ready(component: Component, child: Child, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while True:
            if child.returncode is not None:
                raise RuntimeError(f"{component.name} exited with code {child.returncode}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(component.ready_url) as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{component.name} not ready within {timeout:.0f} s")
            await asyncio.sleep(0.2)


class TestStack(LocalStack):
    """The local run's stack, but each database is migrated by its service as it starts
    (``migrate_at_start``, on by default) instead of by a ``migrate`` command per service
    before: the same migrations by the same code, and six Python processes fewer per stack
    (about 5.7 s CPU of a stack's 19 s; a test session starts a dozen stacks). The command
    itself keeps its tests: the local run's (tests/test_local_run.py), the containers'
    (tests/deploy) and tests/shared/test_migrations.py."""

    async def prepare(self) -> None:
        for component in self.components:
            if component.database:
                await checks.ensure_database(self.config.pg_url, component.database)


@contextlib.asynccontextmanager
async def running_stack(
    pg_admin_url: str,
    amqp_url: str,
    workdir: Path,
    *,
    log_level: str = "INFO",
    ready_timeout: float = 120.0,
    make_local: Callable[[StackConfig, Output], LocalStack] = TestStack,
) -> AsyncIterator[Stack]:
    """Start a whole stack in ``workdir``, an existing directory (its Maildir and the
    processes' output, ``stack.log``, go there). ``make_local`` builds what starts the
    components (the container test's runs each in a container)."""
    tag = uuid.uuid4().hex[:8]
    config = StackConfig(
        base_port=free_base_port(),
        bus_prefix=f"e2e{tag}.",
        db_prefix=f"ebok_e2e{tag}_",
        pg_url=pg_admin_url,
        amqp_url=amqp_url,
        maildir=workdir / "mail",
        log_level=log_level,
        ready_timeout=ready_timeout,
        stop_timeout=30.0,
        demo_clients=0,
        # Two stacks run at once (two test workers, or the browser tests' and a module's):
        # small pools keep them well inside PostgreSQL's default 100 connections (an idle
        # stack holds about 20: a pool connection, the relay's and the revocations' LISTEN).
        db_pool_min=1,
        db_pool_max=3,
    )
    log_path = workdir / "stack.log"
    with log_path.open("w", encoding="utf-8") as log:
        output = Output(width=max(len(n) for n in (*COMPONENTS, "smtp-sink", "local")), stream=log)
        local = make_local(config, output)
        stack = Stack(local, log_path, output)
        try:
            try:
                await local.prepare()
                await local.start()
                await local.wait_ready()
            except StartupFailed as failure:
                raise RuntimeError(
                    f"the stack did not come up: {failure}\n{stack.tail()}"
                ) from None
            yield stack
        finally:
            try:
                await local.stop()
            finally:
                local.kill_all_now()
                await _drop_databases(config, [c.database for c in local.components])
                await _delete_bus_objects(config)


async def _delete_bus_objects(config: StackConfig) -> None:
    """The stack's queues and exchanges: a long test session runs dozens of stacks in one
    vhost, and the broker holds only so many quorum queues (``tests.support.infra``)."""
    queues, exchanges = await asyncio.to_thread(
        infra.bus_objects, config.amqp_url, config.bus_prefix
    )
    if queues or exchanges:
        connection = await bus.connect(config.amqp_url, "ebok-tests-cleanup")
        async with connection:
            await bus.delete_bus_objects(connection, queues, exchanges)


async def _drop_databases(config: StackConfig, names: Sequence[str | None]) -> None:
    for name in names:
        if name:
            with contextlib.suppress(Exception):
                await db.drop_database(config.pg_url, name)
