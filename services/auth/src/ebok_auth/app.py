"""The auth app factory: wires routes, subscriptions and resources; no logic here."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from ebok_shared.service import POOL, ServiceSpec, create_service_app

from . import events, http_common, http_customer, http_operator, http_public, scheduler
from .keys import KeyRing, LocalVerifier
from .passwords import Hasher
from .resources import HASHER, KEYRING
from .settings import AuthSettings
from .use_cases import operators, regulations

SPEC: ServiceSpec[AuthSettings] = ServiceSpec(
    name="auth",
    migrations=Path(__file__).parent / "migrations",
    routes=[*http_public.routes, *http_customer.routes, *http_operator.routes],
    subscriptions=events.subscriptions(grace_days=30),
    middlewares=[http_common.retry_after],
)


async def _resources(app: web.Application) -> AsyncIterator[None]:
    """Keys, regulations v1 and the bootstrap admin, before the first request is served."""
    settings, pool = AuthSettings.of(app), app[POOL]
    await app[KEYRING].load(pool)
    await regulations.seed(pool)
    await operators.bootstrap_admin(pool, app[HASHER], settings)
    yield
    app[HASHER].close()


def create_app(settings: AuthSettings) -> web.Application:
    keyring = KeyRing(settings)
    spec = dataclasses.replace(
        SPEC,
        subscriptions=events.subscriptions(settings.contract_block_grace_days),
        # The scheduler also reloads the signing keys, which every role that answers HTTP
        # needs after a rotation: a context (every role), not a worker-only background loop.
        contexts=[_resources, scheduler.run],
        verifier=lambda _settings: LocalVerifier(keyring, settings),
    )
    app = create_service_app(spec, settings)
    app[KEYRING] = keyring
    app[HASHER] = Hasher(settings)
    return app
