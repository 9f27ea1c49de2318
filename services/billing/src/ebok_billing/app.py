"""The billing app factory: wires routes, subscriptions and resources; no logic here."""

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

from aiohttp import web
from ebok_shared.service import POOL, ServiceSpec, create_service_app

from . import billing_run, events, handlers, operations
from .settings import BillingSettings

SPEC = ServiceSpec(
    name="billing",
    migrations=Path(__file__).parent / "migrations",
    routes=handlers.routes,
    # What the back office's ledger takes from e-BOK: invoices and interest notes issued
    # here, payments as applied, and each client's invoice delivery preference.
    backoffice_events=(
        events.INVOICE_ISSUED,
        events.INTEREST_NOTE_ISSUED,
        events.PAYMENT_POSTED,
        events.CONSENT_CHANGED,
    ),
)


async def _seed_rates(app: web.Application) -> AsyncIterator[None]:
    """The NBP rate table lives in the database; the packaged CSV extends it at start."""
    async with app[POOL].acquire() as conn, conn.transaction():
        await conn.execute("LOCK TABLE reference_rates IN SHARE ROW EXCLUSIVE MODE")
        await operations.seed_rates(conn)
    yield


def create_app(settings: BillingSettings) -> web.Application:
    spec = replace(
        SPEC,
        subscriptions=billing_run.subscriptions(settings, SPEC.catalogue),
        contexts=[_seed_rates],
    )
    return create_service_app(spec, settings)
