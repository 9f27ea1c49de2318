"""Verification of auth's signed access tokens (EdDSA JWT) against its JWKS endpoint.

Keys are fetched once, cached, and fetched again when a token names an unknown key id
(at most once per ``refetch_interval``, so garbage key ids cannot hammer auth). Only
``EdDSA`` is accepted: ``alg: none`` and HMAC confusion are refused before any key is used.

A token's signature is checked once per process: the principal it proves is kept, under the
exact token text, until the token expires (never longer) or its key is no longer known, so
a customer's next requests — and the dashboard's eight calls behind one — skip the signature
and claim checks. The cache keeps only what the token itself says; whether it was revoked
since is asked on every request (``ebok_shared.revocation``), so a revoked token is refused
as before.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
import jwt
from aiohttp import web

from ..logs import get_logger

log = get_logger(__name__)

ALGORITHM = "EdDSA"
VERIFIED_KEPT = 20_000  # verified tokens kept per process (the least recently used go first)
Kind = Literal["customer", "operator", "service"]


class InvalidToken(Exception):
    """The token is missing, malformed, forged, expired or otherwise not acceptable."""


@dataclass(frozen=True)
class Principal:
    subject: str  # the client number, the operator's id, or the calling service's name
    kind: Kind
    session_id: str | None = None
    roles: frozenset[str] = frozenset()
    restrictions: frozenset[str] = frozenset()  # e.g. "password_change", "regulations"
    claims: dict[str, Any] = field(default_factory=dict, compare=False)


# The verified caller of a request (set by the shared authentication middleware).
PRINCIPAL = web.RequestKey("principal", Principal)


class TokenVerifier:
    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        session: aiohttp.ClientSession | None = None,
        refetch_interval: float = 10.0,
        leeway: float = 5.0,
        kept: int = VERIFIED_KEPT,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self._session = session
        self._keys: dict[str, Any] = {}
        self._attempted_at: float | None = None  # the last fetch, whether it worked or not
        self._refetch_interval = refetch_interval
        self._leeway = leeway
        self._lock = asyncio.Lock()
        # token text -> (the principal it proves, when it stops being accepted, its key id)
        self._verified: OrderedDict[str, tuple[Principal, float, str]] = OrderedDict()
        self._kept = kept
        self._now = now

    async def _fetch(self) -> None:
        session = self._session or aiohttp.ClientSession()
        try:
            async with session.get(self.jwks_url, timeout=aiohttp.ClientTimeout(total=5)) as resp:
                resp.raise_for_status()
                jwks = await resp.json()
        finally:
            if self._session is None:
                await session.close()
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys", []), list):
            raise ValueError("not a JWK set")
        keys = {}
        for jwk in jwks.get("keys", []):
            try:
                if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
                    raise KeyError("kid")
                keys[jwk["kid"]] = jwt.PyJWK.from_dict(jwk).key
            except (KeyError, jwt.PyJWTError) as exc:
                log.warning("ignoring unusable JWK", error=repr(exc))
        self._keys = keys

    async def _key(self, kid: str) -> Any:
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            # Failed and empty fetches count too: while auth is down, requests must not
            # queue behind one fetch attempt after another.
            if kid not in self._keys and (
                self._attempted_at is None
                or time.monotonic() - self._attempted_at >= self._refetch_interval
            ):
                self._attempted_at = time.monotonic()
                try:
                    await self._fetch()
                except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                    log.warning("JWKS fetch failed", url=self.jwks_url, error=repr(exc))
        if kid not in self._keys:
            raise InvalidToken("unknown key id")
        return self._keys[kid]

    async def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            principal, until, kid = known
            if self._now() >= until:
                del self._verified[token]
                raise InvalidToken("Signature has expired")
            await self._key(kid)  # a key withdrawn since takes its tokens with it
            self._verified.move_to_end(token)
            return principal
        principal, kid = await self._verify(token)
        if "nbf" not in principal.claims:  # a not-yet-valid token is checked again each time
            until = float(principal.claims["exp"]) + self._leeway
            self._verified[token] = (principal, until, kid)
            if len(self._verified) > self._kept:
                self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, str]:
        """The principal ``token`` proves, checked in full, and its key id."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from None
        if header.get("alg") != ALGORITHM or not isinstance(header.get("kid"), str):
            raise InvalidToken("unacceptable token header")
        key = await self._key(header["kid"])
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        kind = claims.get("kind")
        if kind not in ("customer", "operator", "service"):
            raise InvalidToken("unknown principal kind")
        principal = Principal(
            subject=str(claims["sub"]),
            kind=kind,
            session_id=claims.get("sid"),
            roles=frozenset(claims.get("roles", ())),
            restrictions=frozenset(claims.get("restrictions", ())),
            claims=claims,
        )
        return principal, header["kid"]
