"""The auth app factory: wires routes, subscriptions and resources; no logic here."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from ebok_shared import api
from ebok_shared.logs import get_logger
from ebok_shared.service import POOL, ServiceSpec, create_service_app

from . import events, http_customer, http_operator, http_public, scheduler
from .audit_seal import seal_of
from .keys import KeyRing, LocalVerifier
from .passwords import Hasher
from .resources import HASHER, KEYRING
from .settings import AuthSettings
from .totp_vault import vault_of
from .use_cases import audit, operators, regulations, totp

log = get_logger(__name__)

SPEC: ServiceSpec[AuthSettings] = ServiceSpec(
    name="auth",
    contract=api.auth.OPERATIONS,
    migrations=Path(__file__).parent / "migrations",
    routes=[*http_public.routes, *http_customer.routes, *http_operator.routes],
    subscriptions=events.subscriptions(grace_days=30),
)


async def _resources(app: web.Application) -> AsyncIterator[None]:
    """Keys, regulations v1 and the bootstrap admin, before the first request is served."""
    settings, pool = AuthSettings.of(app), app[POOL]
    await app[KEYRING].load(pool)
    sealed = await totp.seal_stored(pool, vault_of(settings))
    if sealed:
        log.info("TOTP keys sealed with the current EBOK_TOTP_KEYS key", count=sealed)
    audit_seal = seal_of(settings)  # a missing EBOK_AUDIT_KEYS stops the start here
    audit.install_seal(audit_seal)
    sealed = await audit.seal_unsealed(pool, audit_seal)
    if sealed:
        log.warning("audit rows written before the log was sealed are sealed now", count=sealed)
    await regulations.seed(pool)
    await operators.bootstrap_admin(pool, app[HASHER], settings)
    yield
    app[HASHER].close()


def create_app(settings: AuthSettings) -> web.Application:
    keyring = KeyRing(settings)
    if settings.totp_keys is not None:
        vault_of(settings)  # a malformed EBOK_TOTP_KEYS stops here; a missing one at start-up
    if settings.audit_keys is not None:
        audit.install_seal(seal_of(settings))  # likewise EBOK_AUDIT_KEYS
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
