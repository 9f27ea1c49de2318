"""Fixtures of the notifier's tests: a real SMTP server, a stand-in billing, a token issuer
and the notifier app wired to all of them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.notifier.harness import (
    Billing,
    Notifier,
    running_billing,
    running_notifier,
    settings_for,
)
from tests.support.smtp import SmtpServer, running_smtp
from tests.support.tokens import Issuer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with running_smtp() as server:
        yield server


@pytest.fixture
async def billing() -> AsyncIterator[Billing]:
    async with running_billing() as stand_in:
        yield stand_in


@pytest.fixture
async def notifier(
    database: str,
    amqp_url: str,
    bus_prefix: str,
    smtp: SmtpServer,
    billing: Billing,
    issuer: Issuer,
) -> AsyncIterator[Notifier]:
    settings = settings_for(
        database,
        amqp_url,
        bus_prefix,
        smtp,
        billing_url=billing.url,
        auth_url=billing.url,
        jwks_url=issuer.jwks_url,
    )
    async with running_notifier(settings, issuer=issuer) as running:
        yield running
