"""The readings app factory: wires routes, subscriptions and resources; no logic here."""

from pathlib import Path

from aiohttp import web
from ebok_shared import api
from ebok_shared.service import ServiceSpec, create_service_app

from . import events, http_customer, http_operator, scheduler
from .settings import ReadingsSettings

SPEC: ServiceSpec[ReadingsSettings] = ServiceSpec(
    name="readings",
    contract=api.readings.OPERATIONS,
    migrations=Path(__file__).parent / "migrations",
    routes=[*http_customer.routes, *http_operator.routes],
    subscriptions=events.SUBSCRIPTIONS,
    # The utility's systems keep their register of meters and readings in step with e-BOK.
    backoffice_events=events.PUBLISHED,
    background=[scheduler.scheduler_context],  # the worker role runs the reminders
)


def create_app(settings: ReadingsSettings, spec: ServiceSpec = SPEC) -> web.Application:
    return create_service_app(spec, settings)
