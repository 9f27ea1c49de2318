"""Billing's real app on a real port, with a real database and broker per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from ebok_billing import documents
from ebok_billing.app import create_app
from ebok_billing.settings import BillingSettings

from tests.billing.helpers import Billing, EventTap
from tests.support.apps import serve
from tests.support.tokens import running_issuer


def billing_settings(
    database: str, amqp_url: str, prefix: str, jwks_url: str, **overrides: object
) -> BillingSettings:
    return BillingSettings.from_env(
        {},
        database_url=database,
        amqp_url=amqp_url,
        bus_prefix=prefix,
        jwks_url=jwks_url,
        retry_delays=(0.2, 0.5),
        **overrides,
    )


@pytest.fixture
async def billing(database: str, amqp_url: str, bus_prefix: str) -> AsyncIterator[Billing]:
    documents.clear_cache()
    async with running_issuer() as issuer:
        settings = billing_settings(database, amqp_url, bus_prefix, issuer.jwks_url)
        tap = EventTap(amqp_url, bus_prefix)
        await tap.start()
        app = create_app(settings)
        try:
            async with serve(app) as http:
                yield Billing(http, issuer, settings, tap, app)
        finally:
            await tap.stop()
