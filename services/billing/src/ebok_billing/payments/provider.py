"""The payment provider as billing calls it: PayU's REST API 2.1 (OAuth ``client_credentials``,
order registration, the order's status). Errors become `ProviderUnavailable`; nothing
secret is logged.

Documented by PayU (developers.payu.com): the token from ``POST
/pl/standard/user/oauth/authorize`` (form-encoded), valid ``expires_in`` seconds; ``POST
/api/v2_1/orders`` answers 302 (or 201) with ``{"status": {"statusCode": "SUCCESS"},
"redirectUri", "orderId", "extOrderId"}`` — the redirect is not followed, its address is
where the customer goes; ``GET /api/v2_1/orders/{orderId}`` answers ``{"orders": [...]}``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from ebok_shared import logs
from ebok_shared.service import HTTP

from ..settings import BillingSettings

log = logs.get_logger(__name__)
TIMEOUT = aiohttp.ClientTimeout(total=10)


class ProviderUnavailable(Exception):
    """The provider could not be reached or refused the request."""


@dataclass(frozen=True)
class Registered:
    provider_order_id: str
    redirect_uri: str


@dataclass
class PayU:
    settings: BillingSettings
    http: aiohttp.ClientSession
    _token: str | None = None
    _token_until: float = 0.0
    _lock: asyncio.Lock | None = None

    @property
    def base(self) -> str:
        return self.settings.payu_base_url.rstrip("/")

    async def _access_token(self) -> str:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._token and time.monotonic() < self._token_until:
                return self._token
            secret = self.settings.payu_client_secret
            form = {
                "grant_type": "client_credentials",
                "client_id": self.settings.payu_client_id,
                "client_secret": secret.reveal() if secret else "",
            }
            data = await self._call("POST", "/pl/standard/user/oauth/authorize", data=form)
            token = data.get("access_token")
            if not isinstance(token, str):
                raise ProviderUnavailable("no access token")
            # Renew a minute early: a token that expires mid-request fails the request.
            self._token = token
            self._token_until = time.monotonic() + max(int(data.get("expires_in", 0)) - 60, 0)
            return token

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with self.http.request(
                method, self.base + path, timeout=TIMEOUT, allow_redirects=False, **kwargs
            ) as resp:
                if resp.status not in (200, 201, 302):
                    log.warning("provider refused", path=path, status=resp.status)
                    raise ProviderUnavailable(f"{path}: HTTP {resp.status}")
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("provider unreachable", path=path, error=type(exc).__name__)
            raise ProviderUnavailable(path) from exc
        if not isinstance(body, dict):
            raise ProviderUnavailable(f"{path}: not an object")
        return body

    async def _authorized(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {await self._access_token()}"}
        return await self._call(method, path, headers=headers, **kwargs)

    async def register(
        self,
        order_id: str,
        total_grosze: int,
        description: str,
        customer_ip: str,
        product: str,
        email: str | None,
    ) -> Registered:
        order: dict[str, Any] = {
            "notifyUrl": self.settings.payu_notify_url,
            "continueUrl": f"{self.settings.payu_continue_url.rstrip('/')}/{order_id}",
            "customerIp": customer_ip,
            "merchantPosId": self.settings.payu_pos_id,
            "description": description,
            "currencyCode": "PLN",
            "totalAmount": str(total_grosze),
            "extOrderId": order_id,
            "validityTime": str(self.settings.payment_order_validity_seconds),
            "products": [{"name": product, "unitPrice": str(total_grosze), "quantity": "1"}],
        }
        if email:
            order["buyer"] = {"email": email, "language": "pl"}
        body = await self._authorized("POST", "/api/v2_1/orders", json=order)
        status = body.get("status")
        if not isinstance(status, dict) or status.get("statusCode") != "SUCCESS":
            raise ProviderUnavailable("order not registered")
        if not isinstance(body.get("orderId"), str) or not isinstance(body.get("redirectUri"), str):
            raise ProviderUnavailable("order answer incomplete")
        return Registered(body["orderId"], body["redirectUri"])

    async def status(self, provider_order_id: str) -> str | None:
        """The order's status at the provider (``COMPLETED``…), None when it has no order."""
        body = await self._authorized("GET", f"/api/v2_1/orders/{provider_order_id}")
        orders = body.get("orders")
        if not isinstance(orders, list) or not orders or not isinstance(orders[0], dict):
            return None
        status = orders[0].get("status")
        return status if isinstance(status, str) else None


# The app's provider client: set by ``provider_context`` when payments are on, read by the
# payment routes and the expiry loop (``scheduler``) alike, so it lives beside the client.
PROVIDER = web.AppKey("payment_provider", PayU)


async def provider_context(app: web.Application) -> AsyncIterator[None]:
    """The provider's client (its OAuth token cached per process) when payments are on."""
    settings = BillingSettings.of(app)
    if settings.payu_base_url:
        app[PROVIDER] = PayU(settings, app[HTTP])
    yield
