"""The gateway's public API (``/api/v1``) as web calls it: the one way web reaches e-BOK.

Web is a client like any other: it sends the customer's bearer token (kept in the server-side
session, never in the browser), the customer's address (``X-Forwarded-For``; the gateway
trusts it from web only, so per-address limits still count customers) and the request's
correlation id. Every answer is kept whole in a ``Reply``; a gateway that cannot be reached
raises ``GatewayUnavailable`` and the page says so instead of breaking.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import orjson
from ebok_shared.http.lane import HttpLane
from ebok_shared.logs import correlation_id_var, get_logger
from multidict import CIMultiDict

log = get_logger(__name__)


class GatewayUnavailable(Exception):
    """The gateway did not answer (down, timed out, connection cut)."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # case-insensitive, as HTTP's names are
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        if not self.body:
            return None
        return orjson.loads(self.body)

    @property
    def problem(self) -> dict[str, Any]:
        """The problem document of a refusal ({} if the answer is not one)."""
        if self.ok or self.content_type not in ("application/problem+json", "application/json"):
            return {}
        try:
            body = orjson.loads(self.body)
        except ValueError:  # orjson.JSONDecodeError is one
            return {}
        return body if isinstance(body, dict) else {}

    @property
    def code(self) -> str:
        return str(self.problem.get("code", ""))


class Gateway:
    """One HTTP client session per process, with timeouts of our own."""

    def __init__(
        self, http: aiohttp.ClientSession, api_url: str, lane: HttpLane | None = None
    ) -> None:
        self._http = http
        self._api = api_url.rstrip("/")
        self._lane = lane  # bodiless GETs (every page's), when it can make them

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        client_ip: str | None = None,
        json_body: Any = None,
        data: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = _headers(token, client_ip, headers)
        kwargs: dict[str, Any] = {"headers": sent}
        target = path
        if params:
            # written into the address here: aiohttp's ``params`` costs a URL rebuilt by yarl
            # on every call (about 100 µs of the portal's busiest page)
            asked = {k: v for k, v in params.items() if v not in (None, "")}
            if asked:
                joint = "&" if "?" in path else "?"
                target = f"{path}{joint}{urlencode(asked, quote_via=quote)}"
        if json_body is not None:
            kwargs["json"] = json_body
        elif data is not None:
            kwargs["data"] = data
        try:
            if self._lane is not None and method == "GET" and len(kwargs) == 1:
                answer = await self._lane.get(target, sent)
                if answer is not None:
                    return Reply(*answer)
            async with self._http.request(method, self._api + target, **kwargs) as resp:
                body = await resp.read()
                return Reply(resp.status, CIMultiDict(resp.headers), body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("gateway unavailable", method=method, path=path, error=type(exc).__name__)
            raise GatewayUnavailable(f"{method} {path}: {type(exc).__name__}") from exc

    @asynccontextmanager
    async def opened(
        self,
        path: str,
        *,
        token: str | None,
        client_ip: str | None,
        read_timeout: float,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A GET whose answer is read by the caller as it comes (a large download passed on
        without holding it whole): no total timeout, ``read_timeout`` between two chunks."""
        timeout = aiohttp.ClientTimeout(total=None, connect=2, sock_read=read_timeout)
        headers = _headers(token, client_ip, None)
        try:
            async with self._http.get(self._api + path, headers=headers, timeout=timeout) as resp:
                yield resp
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("gateway unavailable", method="GET", path=path, error=type(exc).__name__)
            raise GatewayUnavailable(f"GET {path}: {type(exc).__name__}") from exc


def _headers(
    token: str | None, client_ip: str | None, extra: dict[str, str] | None
) -> dict[str, str]:
    sent = {"Accept": "application/json, application/problem+json, */*"}
    sent.update(extra or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    if client_ip:
        sent["X-Forwarded-For"] = client_ip
    cid = correlation_id_var.get()
    if cid:
        sent["X-Correlation-Id"] = cid
    return sent
