"""Fixtures of the readings tests: a token issuer and the readings app wired to the test's
own database and broker prefix, with the clock frozen on a working day."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.readings.harness import Readings, freeze, running_readings, settings_for
from tests.support.tokens import Issuer


@pytest.fixture
async def readings(
    database: str, amqp_url: str, bus_prefix: str, issuer: Issuer
) -> AsyncIterator[Readings]:
    freeze()
    settings = settings_for(database, amqp_url, bus_prefix, issuer.jwks_url)
    async with running_readings(settings, issuer) as running:
        yield running
