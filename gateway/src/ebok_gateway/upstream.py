"""Calls from the gateway to the services: one client session, timeouts on every call, and
upstream failures mapped to meaningful problems (never upstream internals)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from ebok_shared.http.middleware import CORRELATION_HEADER
from ebok_shared.http.problems import Problem
from ebok_shared.logs import correlation_id_var, get_logger

log = get_logger(__name__)

SERVICE_NAMES_PL = {
    "auth": "logowania i kont",
    "billing": "rozliczeń",
    "readings": "odczytów",
    "correspondence": "korespondencji",
    "notifier": "powiadomień",
}
_PASSED_PROBLEM_FIELDS = ("type", "title", "status", "detail", "code", "errors", "restrictions")


@dataclass(frozen=True)
class UpstreamResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def unavailable(service: str, status: int = 503) -> Problem:
    return Problem(
        status,
        f"Usługa {SERVICE_NAMES_PL.get(service, service)} jest chwilowo niedostępna. "
        "Spróbuj ponownie za chwilę.",
        code="service-unavailable" if status == 503 else "service-timeout",
        service=service,
    )


class Upstreams:
    def __init__(self, session: aiohttp.ClientSession, base_urls: dict[str, str], timeout: float):
        self.session = session
        self.base_urls = base_urls
        self.timeout = timeout

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        params: Any = None,
        data: bytes | None = None,
        timeout: float | None = None,
    ) -> UpstreamResponse:
        """One call; connection failures and timeouts become 503/504 problems."""
        sent = dict(headers or {})
        cid = correlation_id_var.get()
        if cid:
            sent[CORRELATION_HEADER] = cid
        url = self.base_urls[service] + path
        try:
            async with self.session.request(
                method,
                url,
                headers=sent,
                params=params,
                data=data,
                timeout=aiohttp.ClientTimeout(total=timeout or self.timeout),
                allow_redirects=False,
            ) as resp:
                body = await resp.read()
                return UpstreamResponse(resp.status, dict(resp.headers), body)
        except TimeoutError:
            log.warning("upstream timeout", service=service, path=path)
            raise unavailable(service, 504) from None
        except (aiohttp.ClientError, OSError) as exc:
            log.warning("upstream unreachable", service=service, path=path, error=repr(exc))
            raise unavailable(service) from None

    async def json(
        self,
        service: str,
        path: str,
        *,
        token: str,
        timeout: float,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """GET a JSON document for an aggregated view; any non-200 is an error of that part.
        ``timeout`` bounds the whole call, connecting and reading included (the client's own
        total timeout: no extra task per call)."""
        resp = await self.call(
            service,
            "GET",
            path,
            headers={**(headers or {}), "Authorization": f"Bearer {token}"},
            timeout=timeout,
        )
        if resp.status != 200:
            raise as_problem(service, resp)
        return resp.json()


def as_problem(service: str, resp: UpstreamResponse) -> Problem:
    """A service's problem is passed on (its fields are ours and Polish); anything else that
    is not a success is reported without its body."""
    if resp.headers.get("Content-Type", "").startswith("application/problem+json"):
        try:
            data = resp.json()
            fields = {k: data[k] for k in _PASSED_PROBLEM_FIELDS if k in data}
            status = int(fields.pop("status", resp.status))
            detail = fields.pop("detail", None)
            code = fields.pop("code", None)
            title = fields.pop("title", None)
            fields.pop("type", None)
            errors = fields.pop("errors", None)
            if status < 500:
                return Problem(status, detail, code=code, title=title, errors=errors, **fields)
        except (ValueError, TypeError):
            pass
    if resp.status >= 500:
        return unavailable(service, 503)
    return Problem(resp.status)
