"""Service credentials: auth issues short-lived tokens of kind "service" to the services
configured in EBOK_SERVICE_CLIENTS (billing's /internal routes take them: tests/billing)."""

from __future__ import annotations

import pytest
from ebok_shared.config import ConfigError, Secret
from ebok_shared.http.service_tokens import ServiceTokenError, ServiceTokens
from ebok_shared.http.tokens import TokenVerifier

from tests.auth.harness import running_auth, settings_for

SECRET = "n" * 40
CLIENTS = Secret(f"notifier:{SECRET}")


async def test_a_configured_service_gets_a_verifiable_token(
    database: str, amqp_url: str, bus_prefix: str
) -> None:
    async with running_auth(database, amqp_url, bus_prefix, service_clients=CLIENTS) as auth:
        base = str(auth.client.make_url("")).rstrip("/")
        tokens = ServiceTokens(auth.client.session, base, "notifier", Secret(SECRET))
        header = await tokens.authorization()
        verifier = TokenVerifier(
            f"{base}/.well-known/jwks.json",
            issuer="ebok-auth",
            audience="ebok",
            session=auth.client.session,
        )
        principal = await verifier.verify(header["Authorization"].removeprefix("Bearer "))
        assert (principal.kind, principal.subject) == ("service", "notifier")
        assert await tokens.authorization() == header  # kept, not fetched again

        wrong = ServiceTokens(auth.client.session, base, "notifier", Secret("x" * 40))
        with pytest.raises(ServiceTokenError):
            await wrong.authorization()
        unknown = await auth.client.post(
            "/service-tokens", json={"client_id": "gateway", "client_secret": SECRET}
        )
        assert unknown.status == 401
        assert (await unknown.json())["code"] == "invalid-client"


def test_short_service_secrets_are_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="EBOK_SERVICE_CLIENTS"):
        settings_for(
            "postgresql://x@127.0.0.1/y", "amqp://x/", "", service_clients=Secret("n:short")
        )
