"""Service credentials: a service calling another carries a short-lived token of its own
(kind "service"), got from auth with its client id and secret (OAuth 2.0 client credentials)
and kept until shortly before it expires."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from ..config import Secret


class ServiceTokenError(Exception):
    """auth did not issue a token (down, or the credentials are refused)."""


class ServiceTokens:
    def __init__(
        self, session: aiohttp.ClientSession, auth_url: str, client_id: str, secret: Secret
    ) -> None:
        self.session = session
        self.url = auth_url.rstrip("/") + "/service-tokens"
        self.client_id = client_id
        self.secret = secret
        self._token = ""
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    async def authorization(self) -> dict[str, str]:
        """The Authorization header for a call to another service."""
        if time.monotonic() >= self._renew_at:
            async with self._lock:
                if time.monotonic() >= self._renew_at:
                    await self._fetch()
        return {"Authorization": f"Bearer {self._token}"}

    async def _fetch(self) -> None:
        try:
            async with self.session.post(
                self.url,
                json={"client_id": self.client_id, "client_secret": self.secret.reveal()},
                timeout=aiohttp.ClientTimeout(total=5),
            ) as resp:
                if resp.status != 200:
                    raise ServiceTokenError(f"auth answered {resp.status} to {self.client_id}")
                body = await resp.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ServiceTokenError(f"auth unreachable: {exc!r}") from None
        self._token = body["access_token"]
        # Renew at 80 % of the lifetime, so a token never expires on its way.
        self._renew_at = time.monotonic() + 0.8 * float(body["expires_in"])
