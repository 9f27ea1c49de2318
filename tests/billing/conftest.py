"""Billing's real app on a real port, with a real database and broker per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from ebok_billing.documents import rendering as documents

from tests.billing.helpers import Billing, billing_settings, running_billing
from tests.support.tokens import Issuer


@pytest.fixture
async def billing(
    database: str, amqp_url: str, bus_prefix: str, issuer: Issuer
) -> AsyncIterator[Billing]:
    documents.clear_cache()
    settings = billing_settings(database, amqp_url, bus_prefix, issuer.jwks_url)
    async with running_billing(settings, issuer) as running:
        yield running
