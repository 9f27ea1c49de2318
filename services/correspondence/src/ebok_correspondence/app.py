"""The correspondence app factory: wires routes, subscriptions and resources; no logic here."""

from pathlib import Path

from aiohttp import web
from ebok_shared import api
from ebok_shared.service import ServiceSpec, create_service_app

from . import events, http_customer, http_operator
from .http_common import body_and_idempotency
from .settings import CorrespondenceSettings

SPEC: ServiceSpec[CorrespondenceSettings] = ServiceSpec(
    name="correspondence",
    contract=api.correspondence.OPERATIONS,
    migrations=Path(__file__).parent / "migrations",
    routes=[*http_customer.routes, *http_operator.routes],
    subscriptions=events.SUBSCRIPTIONS,
    # The back office applies data changes, examines reklamacje and keeps its register of
    # the utility's correspondence in step with every case event.
    backoffice_events=events.PUBLISHED,
    # Idempotency-Key: the library's for JSON routes, the cases table's for sending a
    # document (see http_common.py).
    idempotency=False,
    middlewares=[body_and_idempotency],
)


def create_app(settings: CorrespondenceSettings) -> web.Application:
    return create_service_app(SPEC, settings)
