"""End-to-end fixtures: ONE whole stack per test module (real processes of every service,
the gateway, the SMTP sink; the real PostgreSQL, RabbitMQ and Redis), kept apart from
everything else by its ports, bus prefix (inside the session's own vhost), database prefix,
Redis prefix and Maildir, and removed with its databases when the module ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.infra import Services

from .client import Api
from .journeys import Session, operator_session
from .stack import Stack, running_stack


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    return tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture(scope="module")
async def stack(services: Services, amqp_url: str, workdir: Path) -> AsyncIterator[Stack]:
    # Each service checks its own answers against its contract (ebok_shared.http.answers).
    with pytest.MonkeyPatch.context() as env:
        env.setenv("EBOK_CHECK_ANSWERS", "1")
        async with running_stack(services.pg_admin_dsn, amqp_url, workdir) as running:
            yield running


@pytest.fixture(scope="module")
async def api(stack: Stack) -> AsyncIterator[Api]:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        # Every answer a test gets is checked against the API document (tests/e2e/contract.py).
        yield await Api(http, stack.api).checked()


@pytest.fixture(scope="module")
async def operator(api: Api, stack: Stack) -> Session:
    """An admin operator's full session (TOTP login through the gateway)."""
    return await operator_session(api, stack)
