"""Fixtures of the correspondence tests: a token issuer and the service wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.correspondence.harness import Correspondence, running_correspondence, settings_for
from tests.support.tokens import Issuer


@pytest.fixture
async def svc(
    database: str, amqp_url: str, bus_prefix: str, issuer: Issuer
) -> AsyncIterator[Correspondence]:
    async with running_correspondence(settings_for(database, amqp_url, bus_prefix), issuer) as s:
        yield s
