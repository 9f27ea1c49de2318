"""The auth app factory: wires routes, subscriptions and resources; no logic here."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from ebok_shared.service import POOL, ServiceSpec, create_service_app

from . import handlers, operators, regulations, scheduler
from .keys import KeyRing, LocalVerifier
from .passwords import Hasher
from .projection import Projection
from .resources import AUTH_SETTINGS, HASHER, KEYRING
from .settings import AuthSettings

SPEC = ServiceSpec(
    name="auth",
    migrations=Path(__file__).parent / "migrations",
    routes=handlers.routes,
    subscriptions=Projection(grace_days=30).subscriptions(),
)


async def _resources(app: web.Application) -> AsyncIterator[None]:
    """Keys, regulations v1 and the bootstrap admin, before the first request is served."""
    settings, pool = app[AUTH_SETTINGS], app[POOL]
    await app[KEYRING].load(pool)
    await regulations.seed(pool)
    await operators.bootstrap_admin(pool, app[HASHER], settings)
    yield
    app[HASHER].close()


def create_app(settings: AuthSettings) -> web.Application:
    keyring = KeyRing(settings)
    spec = dataclasses.replace(
        SPEC,
        subscriptions=Projection(settings.contract_block_grace_days).subscriptions(),
        contexts=[_resources, scheduler.run],
        verifier=lambda _settings: LocalVerifier(keyring, settings),
    )
    app = create_service_app(spec, settings)
    app[AUTH_SETTINGS] = settings
    app[KEYRING] = keyring
    app[HASHER] = Hasher(settings)
    return app
