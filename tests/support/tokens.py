"""The one token helper: a stand-in token issuer (an Ed25519 key, a JWKS endpoint served by a
real aiohttp server) whose tokens are signed the way auth signs them, and the request headers
of a customer, an operator or a service holding one. A service under test trusts it through
its ``jwks_url``."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ebok_shared.http.roles import ROLES


class Issuer:
    def __init__(self, issuer: str = "ebok-auth", audience: str = "ebok") -> None:
        self.issuer = issuer
        self.audience = audience
        self.keys: dict[str, Ed25519PrivateKey] = {}
        self.current = self.rotate()
        self.jwks_url = ""

    def rotate(self) -> str:
        kid = uuid.uuid4().hex[:12]
        self.keys[kid] = Ed25519PrivateKey.generate()
        self.current = kid
        return kid

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "alg": "EdDSA", "use": "sig"})
        return {"keys": keys}

    def token(
        self,
        subject: str = "123456",
        *,
        kind: str = "customer",
        ttl: int = 300,
        key: Ed25519PrivateKey | None = None,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "kind": kind,
            "iat": now,
            "exp": now + ttl,
            "sid": uuid.uuid4().hex,
            **claims,
        }
        kid = kid or self.current
        return jwt.encode(payload, key or self.keys[kid], algorithm="EdDSA", headers={"kid": kid})

    # -- request headers of the three kinds of caller ------------------------------------
    def customer(self, client_number: str = "100001", **claims: Any) -> dict[str, str]:
        return bearer(self.token(client_number, kind="customer", **claims))

    def operator(
        self, operator_id: str = "op-1", roles: tuple[str, ...] | None = ROLES
    ) -> dict[str, str]:
        """An operator's headers: by default holding every role (a role test names the one
        it needs); ``roles=None``: a token without the roles claim."""
        claims: dict[str, Any] = {} if roles is None else {"roles": list(roles)}
        return bearer(self.token(operator_id, kind="operator", **claims))

    def service(self, name: str = "notifier") -> dict[str, str]:
        return bearer(self.token(name, kind="service"))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def running_issuer() -> AsyncIterator[Issuer]:
    issuer = Issuer()
    app = web.Application()

    async def jwks(_: web.Request) -> web.Response:
        return web.json_response(issuer.jwks())

    app.router.add_get("/.well-known/jwks.json", jwks)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    issuer.jwks_url = str(server.make_url("/.well-known/jwks.json"))
    try:
        yield issuer
    finally:
        await server.close()
