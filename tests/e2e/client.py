"""A thin client of the gateway's public API (``/api/v1``): every answer kept whole, so an
assertion can show what came back."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp

from .contract import Answer, Contract


@dataclass(frozen=True)
class Reply:
    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip()

    def json(self) -> Any:
        return json.loads(self.body)

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status} {self.body[:600]!r}"


class Api:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        base: str,
        headers: dict[str, str] | None = None,
        contract: Contract | None = None,
    ) -> None:
        self.http = http
        self.base = base.rstrip("/")
        self.headers = dict(headers or {})  # sent with every call (e.g. X-Forwarded-For)
        self.contract = contract  # when set, every answer is checked against the document

    async def checked(self) -> Api:
        """This client, checking every answer against the gateway's OpenAPI document."""
        reply = await self.get("/openapi.json")
        assert reply.status == 200, str(reply)
        self.contract = Contract(reply.json())
        return self

    def from_address(self, address: str) -> Api:
        """The same API called from another address (the gateway trusts X-Forwarded-For
        from this host in a test stack): per-address limits count it apart."""
        headers = {**self.headers, "X-Forwarded-For": address}
        return Api(self.http, self.base, headers, self.contract)

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        form: aiohttp.FormData | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        idempotent: bool = False,
    ) -> Reply:
        """One call; ``form`` is a multipart/form-data body (fields and files)."""
        sent = {**self.headers, **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if idempotent:
            sent["Idempotency-Key"] = str(uuid.uuid4())
        body: dict[str, Any] = {"json": json} if form is None else {"data": form}
        if form is not None and self.contract is not None:
            self.contract.check_form(method, path)
        async with self.http.request(
            method, self.base + path, headers=sent, params=params, **body
        ) as resp:
            answer = await resp.read()
            reply = Reply(method, path, resp.status, dict(resp.headers), answer)
        if self.contract is not None:
            self.contract.check(Answer(method, path, reply.status, reply.content_type, answer))
        return reply

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Reply:
        return await self.call("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> Reply:
        return await self.call("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any) -> Reply:
        return await self.call("DELETE", path, **kw)


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes, str]]) -> aiohttp.FormData:
    """A multipart/form-data body: text ``fields``, then ``files`` as (field, file name,
    bytes, content type); a field named more than once carries several files. File names
    travel as browsers send them, UTF-8 in quotes (aiohttp would percent-encode them)."""
    form = aiohttp.FormData(quote_fields=False)  # names as a browser sends them (UTF-8)
    for name, value in fields.items():
        form.add_field(name, value)
    for name, filename, data, content_type in files:
        form.add_field(name, data, filename=filename, content_type=content_type)
    return form


def expect(reply: Reply, status: int) -> Any:
    """The JSON body of a reply that must have ``status`` (the whole reply shown if not)."""
    assert reply.status == status, str(reply)
    if reply.content_type in ("application/json", "application/problem+json"):
        return reply.json()
    return None


def expect_problem(reply: Reply, status: int, code: str | None = None) -> dict[str, Any]:
    """A refusal: the status, ``application/problem+json`` and, if given, its ``code``."""
    assert reply.status == status, str(reply)
    assert reply.content_type == "application/problem+json", str(reply)
    problem: dict[str, Any] = reply.json()
    assert problem["status"] == status, problem
    if code is not None:
        assert problem.get("code") == code, problem
    return problem
