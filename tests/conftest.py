"""The real-service test harness.

PostgreSQL and RabbitMQ come from the environment (``EBOK_TEST_PG_DSN``,
``EBOK_TEST_AMQP_URL``), defaulting to the local servers. If they are unreachable and a
Docker engine is, they are started with testcontainers; if neither, the run stops with one
clear message. Every test gets its own database; the session gets its own RabbitMQ vhost
(deleted at the end) and every test its own queue/exchange prefix inside it, so the suite
runs twice in a row, and beside a running local stack, with the same result.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from ebok_shared import logs
from ebok_shared.clock import clock

from tests.support import infra
from tests.support.tokens import Issuer, running_issuer

logs.configure("tests", os.environ.get("EBOK_TEST_LOG_LEVEL", "WARNING"), cache=False)
# "Today" is the utility's day (Europe/Warsaw) in the tests and the processes they start, as
# on its pages: between 23:00 and 24:00 UTC the two calendars name different days.
os.environ["TZ"] = "Europe/Warsaw"
time.tzset()

pytest_plugins = ["tests.support.logcapture"]  # the ``captured`` fixture: log lines as JSON

HERE = Path(__file__).resolve().parent
# Test tiers (``pytest -m unit`` runs in seconds): "e2e" starts whole stacks of processes
# (tests/e2e, tests/web, the local run); "service" talks to the real PostgreSQL or RabbitMQ;
# "unit" does no I/O.
WHOLE_STACKS = ("e2e", "web", "test_local_run.py")
# Builds every image and runs the stack in containers: a whole stack too, with a timeout of
# its own (its module's: a first run on a machine also makes the base image).
CONTAINERS = ("deploy", "test_containers.py")
# The system fault suite: whole stacks on a PostgreSQL and a RabbitMQ of its own.
SYSTEM = "system"
INFRASTRUCTURE = frozenset({"services", "database", "amqp_url"})
STACK_TEST_TIMEOUT = 420  # seconds; the rest keep pyproject's 180


def _tier(item: pytest.Item) -> int:
    """0 the container test and the fault suite, 1 whole stacks, 2 service, 3 unit."""
    parts = Path(str(item.fspath)).resolve().relative_to(HERE).parts
    if parts[:2] == CONTAINERS or (
        parts[0] == SYSTEM and "servers_installed" in getattr(item, "fixturenames", ())
    ):
        return 0  # with a timeout of its module's own
    if parts[0] in WHOLE_STACKS:
        return 1
    return 2 if INFRASTRUCTURE & set(getattr(item, "fixturenames", ())) else 3


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    marks = (pytest.mark.e2e, pytest.mark.e2e, pytest.mark.service, pytest.mark.unit)
    module_tier: dict[Path, int] = {}
    for item in items:
        tier = _tier(item)
        item.add_marker(marks[tier])
        if tier == 1:
            # The first test of a module also waits for its whole stack to start.
            item.add_marker(pytest.mark.timeout(STACK_TEST_TIMEOUT))
        module_tier[item.path] = min(tier, module_tier.get(item.path, 3))
    # The longest modules first: the suite runs its modules side by side (pytest-xdist, a
    # module to a worker), and a long module started last would run alone at the end. Sorted
    # by module, stably, so each module's tests stay together and in their order.
    items.sort(key=lambda item: module_tier[item.path])


@pytest.fixture(scope="session")
def services() -> Iterator[infra.Services]:
    with infra.provide() as found:
        yield found


@pytest.fixture(scope="session")
def amqp_url(services: infra.Services) -> str:
    return services.amqp_url


@pytest.fixture
async def database(services: infra.Services) -> AsyncIterator[str]:
    """A fresh, empty database for this test; its DSN."""
    async with infra.fresh_database(services.pg_admin_dsn) as dsn:
        yield dsn


@pytest.fixture
def bus_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
async def issuer() -> AsyncIterator[Issuer]:
    """A stand-in token issuer (tests.support.tokens): a service under test started with it
    trusts its customer, operator and service tokens."""
    async with running_issuer() as running:
        yield running


@pytest.fixture(autouse=True)
def _reset_clock() -> Iterator[None]:
    yield
    clock.reset()
