"""Signing keys (Ed25519), the JWKS document, access tokens, and auth's own verifier.

Production: ``EBOK_SIGNING_KEYS`` holds one or more PEM private keys; the first signs and all
are published, so a rotation is: prepend the new key, deploy, and drop the old one after an
access-token lifetime. Verifiers re-fetch the JWKS when they meet an unknown key id, so
nobody is logged out (refresh tokens are opaque and unaffected).

Local/dev/test: with no env key, a key is generated and stored in auth's database
(``signing_keys``) so every replica and restart signs with the same one; ``rotate`` adds a
newer key and retires the old one from signing while still publishing it for a grace period.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import time
import uuid
from typing import Any

import asyncpg
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ebok_shared.clock import clock
from ebok_shared.http.tokens import ALGORITHM, InvalidToken, TokenVerifier
from ebok_shared.logs import get_logger

from .repository import keys as repo
from .settings import AuthSettings

log = get_logger(__name__)

_PEM_RE = re.compile(r"-----BEGIN PRIVATE KEY-----.+?-----END PRIVATE KEY-----", re.S)


def _kid(key: Ed25519PrivateKey) -> str:
    """RFC 7638 thumbprint of the public key (stable across restarts and replicas)."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest())[:16].decode()


def _pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _load_pem(pem: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("signing keys must be Ed25519")
    return key


class KeyRing:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self.signing_kid = ""
        self._private: dict[str, Ed25519PrivateKey] = {}
        self._public: dict[str, Any] = {}

    def _set(self, keys: list[Ed25519PrivateKey]) -> None:
        self._private = {_kid(k): k for k in keys}
        self._public = {kid: k.public_key() for kid, k in self._private.items()}
        self.signing_kid = _kid(keys[0])

    async def load(self, pool: asyncpg.Pool) -> None:
        if self.settings.signing_keys:
            pems = _PEM_RE.findall(self.settings.signing_keys.reveal())
            if not pems:
                raise ValueError("EBOK_SIGNING_KEYS holds no PEM private key")
            self._set([_load_pem(p) for p in pems])
            return
        async with pool.acquire() as conn, conn.transaction():
            await repo.lock(conn)
            pems = await self._published(conn)
            if not pems:
                log.warning(
                    "no EBOK_SIGNING_KEYS: generating a signing key in the database "
                    "(local/dev/test only)"
                )
                await self._insert(conn, Ed25519PrivateKey.generate())
                pems = await self._published(conn)
        self._set([_load_pem(p) for p in pems])

    async def _published(self, conn: asyncpg.Connection) -> list[str]:
        # Retired keys stay published while tokens they signed may still be out.
        grace = dt.timedelta(seconds=self.settings.access_token_ttl * 2)
        return await repo.published(conn, clock.now() - grace)

    @staticmethod
    async def _insert(conn: asyncpg.Connection, key: Ed25519PrivateKey) -> str:
        kid = _kid(key)
        await repo.insert(conn, kid, _pem(key), clock.now())
        return kid

    async def rotate(self, pool: asyncpg.Pool) -> str:
        """Database keys only: a new signing key; the old one stays published for a while."""
        if self.settings.signing_keys:
            raise RuntimeError("keys come from EBOK_SIGNING_KEYS: rotate them there")
        async with pool.acquire() as conn, conn.transaction():
            await repo.lock(conn)
            await repo.retire_all(conn, clock.now())
            kid = await self._insert(conn, Ed25519PrivateKey.generate())
        await self.load(pool)
        return kid

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, public in self._public.items():
            jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(public))
            keys.append({**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"})
        return {"keys": keys}

    def public_key(self, kid: str) -> Any:
        return self._public.get(kid)

    def sign(self, claims: dict[str, Any]) -> tuple[str, int]:
        """An access token with these claims; returns it and its lifetime in seconds."""
        # Wall time, not the shared clock: every verifier checks exp with PyJWT's wall time.
        now = int(time.time())
        ttl = self.settings.access_token_ttl
        payload = {
            "iss": self.settings.token_issuer,
            "aud": self.settings.token_audience,
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            **claims,
        }
        token = jwt.encode(
            payload,
            self._private[self.signing_kid],
            algorithm=ALGORITHM,
            headers={"kid": self.signing_kid},
        )
        return token, ttl


class LocalVerifier(TokenVerifier):
    """auth verifies its own tokens against the keys in hand, not over HTTP."""

    def __init__(self, keyring: KeyRing, settings: AuthSettings) -> None:
        super().__init__(
            settings.jwks_url, issuer=settings.token_issuer, audience=settings.token_audience
        )
        self._keyring = keyring

    async def _key(self, kid: str) -> Any:
        key = self._keyring.public_key(kid)
        if key is None:
            raise InvalidToken("unknown key id")
        return key
