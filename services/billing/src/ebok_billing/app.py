"""The billing app factory: wires routes, subscriptions (``events.subscriptions``) and
resources; no logic here."""

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

from aiohttp import web
from ebok_shared import api
from ebok_shared.service import POOL, ServiceSpec, create_service_app

from . import events, http_customer, http_internal, http_operator, http_payments, scheduler
from .interest import use_cases as interest
from .payments import provider
from .settings import BillingSettings

SPEC: ServiceSpec[BillingSettings] = ServiceSpec(
    name="billing",
    contract=api.billing.OPERATIONS,
    migrations=Path(__file__).parent / "migrations",
    routes=[
        *http_customer.routes,
        *http_payments.routes,
        *http_operator.routes,
        *http_internal.routes,
    ],
    # What the back office's ledger takes from e-BOK: invoices and interest notes issued
    # here, payments as applied, and each client's invoice delivery preference.
    backoffice_events=(
        events.INVOICE_ISSUED,
        events.INTEREST_NOTE_ISSUED,
        events.PAYMENT_POSTED,
        events.CONSENT_CHANGED,
        events.PAYMENT_ORDER_CHANGED,
    ),
)


async def _seed_rates(app: web.Application) -> AsyncIterator[None]:
    """The NBP rate table lives in the database; the packaged CSV extends it at start."""
    async with app[POOL].acquire() as conn:
        await interest.seed_rates_at_start(conn)
    yield


def create_app(settings: BillingSettings) -> web.Application:
    spec = replace(
        SPEC,
        subscriptions=events.subscriptions(settings),
        contexts=[_seed_rates, provider.provider_context],
        background=[scheduler.expiry_context],  # the worker role settles expired orders
    )
    return create_service_app(spec, settings)
