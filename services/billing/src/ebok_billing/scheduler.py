"""The worker's background loop: online payment orders past their validity settled without
anyone reading them (``payments.use_cases.expire_overdue``; safe with several replicas)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from ebok_shared.clock import clock
from ebok_shared.loops import every, running
from ebok_shared.service import BUS, POOL

from .payments import use_cases as payments
from .payments.provider import PROVIDER
from .settings import BillingSettings

LOOP = "billing:payment-order-expiry"


async def expiry_context(app: web.Application) -> AsyncIterator[None]:
    s = BillingSettings.of(app)
    if not s.payment_expiry_interval_seconds:
        yield
        return

    async def step() -> None:
        await payments.expire_overdue(
            app[POOL],
            app[BUS].outbox,
            app.get(PROVIDER),
            clock.now(),
            s.payment_order_validity_seconds,
        )

    # The database or the provider may be away: the loop logs it and tries again next round.
    async with running(LOOP, every(LOOP, s.payment_expiry_interval_seconds, step)):
        yield
