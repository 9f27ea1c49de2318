"""Fixtures of the auth tests: ``auth`` is the running service (see harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.auth.harness import Auth, running_auth


@pytest.fixture
async def auth(database: str, amqp_url: str, bus_prefix: str) -> AsyncIterator[Auth]:
    async with running_auth(database, amqp_url, bus_prefix) as running:
        yield running
