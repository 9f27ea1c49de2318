"""The correspondence app factory: wires routes, subscriptions and resources; no logic here."""

from pathlib import Path

from aiohttp import web
from ebok_shared.service import ServiceSpec, create_service_app

from . import events, handlers
from .settings import CorrespondenceSettings

SPEC = ServiceSpec(
    name="correspondence",
    migrations=Path(__file__).parent / "migrations",
    routes=handlers.routes,
    subscriptions=events.SUBSCRIPTIONS,
)


def create_app(settings: CorrespondenceSettings) -> web.Application:
    return create_service_app(SPEC, settings)
