"""The correspondence app factory: wires routes, subscriptions and resources; no logic here."""

from pathlib import Path

from aiohttp import web
from ebok_shared.service import ServiceSpec, create_service_app

from . import backoffice, events, handlers, operator_handlers
from .middleware import body_and_idempotency
from .settings import CorrespondenceSettings

SPEC = ServiceSpec(
    name="correspondence",
    migrations=Path(__file__).parent / "migrations",
    routes=[*handlers.routes, *operator_handlers.routes],
    subscriptions=events.SUBSCRIPTIONS,
    contexts=[backoffice.declare],
    # Idempotency-Key: the library's for JSON routes, the cases table's for sending a
    # document (see middleware.py).
    idempotency=False,
    middlewares=[body_and_idempotency],
)


def create_app(settings: CorrespondenceSettings) -> web.Application:
    return create_service_app(SPEC, settings)
