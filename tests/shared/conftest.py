"""Fixtures of the shared library's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from tests.support.bus import BusSandbox, sandbox
from tests.support.probe_service import running_routes
from tests.support.tokens import Issuer


@pytest.fixture
def publish_path() -> str:
    """How a bus sandbox's relays publish, unless a test parametrizes ``publish_path`` over
    ``tests.support.bus.PUBLISH_PATHS`` (the relay's reliability tests run with each)."""
    return "fast"


@pytest.fixture
async def bus(
    database: str, amqp_url: str, bus_prefix: str, publish_path: str
) -> AsyncIterator[BusSandbox]:
    """The test's own bus sandbox (tests.support.bus), its relays publishing ``publish_path``'s
    way."""
    async with sandbox(database, amqp_url, bus_prefix, publish_path) as found:
        yield found


@pytest.fixture
async def probe(
    request: pytest.FixtureRequest,
    database: str,
    amqp_url: str,
    bus_prefix: str,
    tmp_path: Path,
    issuer: Issuer,
) -> AsyncIterator[tuple[TestClient, Issuer]]:
    """The test module's ``routes`` served by the real ``create_service_app`` (with the
    module's ``PROBE_SETTINGS``, if any), trusting ``issuer``'s tokens."""
    module = request.module
    async with running_routes(
        module.routes,
        tmp_path,
        database,
        amqp_url,
        bus_prefix,
        jwks_url=issuer.jwks_url,
        **getattr(module, "PROBE_SETTINGS", {}),
    ) as client:
        yield client, issuer
