"""Every route of the gateway's OpenAPI document, walked (issue #15, "Tests"): with a revoked
token, with a customer's token on operator routes, with a non-ASCII Authorization header,
and with a path parameter holding an encoded "/", ".." or NUL — each refused with the right
status as a problem document, and not one of them reaching a service.

The routes come from the document itself, so a route added later is walked too."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
from ebok_gateway.openapi import document
from ebok_shared.revocation.repository import revoke_subject
from yarl import URL

from tests.gateway.conftest import Stack
from tests.support.tokens import bearer
from tests.support.waiting import eventually

# A valid value of each path parameter, so that only the one under test is wrong.
GOOD = {
    "number": "12345626010001",
    "serial": "WM-100001-1",
    "case_id": "5c3a4fcb-6d1e-4d1a-9d5e-2f0c1a7b8e90",
    "attachment_id": "0e2b6a8c-3f51-4c7e-9a0d-6b1f2e3d4c5a",
    "version": "1",
    "section": "invoices",
    "item_id": "12345626010001",
    "client_number": "100001",
    "login": "anna.nowak",
    "id": "1",
    "message_id": "5c3a4fcb-6d1e-4d1a-9d5e-2f0c1a7b8e91",
    **{
        name: "5c3a4fcb-6d1e-4d1a-9d5e-2f0c1a7b8e92"
        for name in ("photo_id", "batch_id", "reading_id", "request_id", "order_id")
    },
}
# Encoded "/" with "..", an encoded NUL, both: each would leave its route if decoded.
BAD = ("..%2F..%2Fmetrics", "%2e%2e%2F%2e%2e%2Fhealth%2Fready", "1%00", "..%2F%00")


def _operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document()["paths"].items():
        for method, op in methods.items():
            yield method.upper(), path, op


def _protected(op: dict[str, Any]) -> bool:
    return op.get("security") != []


def _operator_route(path: str) -> bool:
    return path.startswith("/api/v1/operator/")


def _fill(path: str, bad: tuple[str, str] | None = None) -> str:
    def value(found: re.Match[str]) -> str:
        name = found[1]
        return bad[1] if bad is not None and bad[0] == name else GOOD[name]

    return re.sub(r"{(\w+)}", value, path)


async def _call(
    stack: Stack, method: str, path: str, headers: dict[str, str]
) -> tuple[int, str, dict[str, Any]]:
    url = stack.gw.make_url("").join(URL(path, encoded=True))  # sent exactly as written
    body: dict[str, Any] | None = {} if method in ("POST", "PUT") else None
    async with stack.gw.session.request(method, url, headers=headers, json=body) as resp:
        return resp.status, resp.content_type, await resp.json(content_type=None)


def _refused(what: str, got: tuple[int, str, dict[str, Any]], *statuses: int) -> None:
    status, content_type, problem = got
    assert status in statuses, (what, status, problem)
    assert content_type == "application/problem+json", (what, content_type)
    assert problem["status"] == status and problem["detail"], (what, problem)


async def _revoke(stack: Stack, subject: str) -> None:
    conn = await asyncpg.connect(stack.pg)
    try:
        await revoke_subject(conn, subject, dt.datetime.now(dt.UTC), "auth.account.blocked")
    finally:
        await conn.close()


async def test_the_document_has_routes_of_every_kind_to_walk(stack: Stack) -> None:
    ops = list(_operations())
    assert len([op for op in ops if _protected(op[2])]) >= 30
    assert any(_operator_route(path) for _, path, _ in ops)
    assert len([path for _, path, _ in ops if "{" in path]) >= 10


async def test_every_protected_route_refuses_a_revoked_token(stack: Stack) -> None:
    issued = int(time.time()) - 5  # seconds before the block (as every live token is)
    customer = stack.issuer.customer("700001", iat=issued)
    operator = bearer(
        stack.issuer.token("op-revoked", kind="operator", roles=["operator"], iat=issued)
    )
    await _revoke(stack, "customer:700001")
    await _revoke(stack, "operator:op-revoked")

    async def loaded() -> bool:
        status, _, _ = await _call(stack, "GET", "/api/v1/me/contracts", customer)
        return status == 401

    await eventually(loaded, within=1.0, step=0.02)
    walked = 0
    for method, path, op in _operations():
        if not _protected(op):
            continue
        for headers in (customer, operator):
            got = await _call(stack, method, _fill(path), headers)
            _refused(f"{method} {path}", got, 401)
            assert got[2]["code"] == "session-revoked"
            walked += 1
    assert walked >= 60
    assert stack.raw == [], "a revoked token reached a service"


async def test_every_operator_route_refuses_a_customer_token(stack: Stack) -> None:
    walked = 0
    for method, path, op in _operations():
        if _operator_route(path) and _protected(op):
            got = await _call(stack, method, _fill(path), stack.issuer.customer("123456"))
            _refused(f"{method} {path}", got, 403)
            walked += 1
    assert walked >= 4
    assert stack.raw == []


async def test_every_protected_route_refuses_a_non_ascii_authorization_header(
    stack: Stack,
) -> None:
    for method, path, op in _operations():
        if _protected(op):
            got = await _call(stack, method, _fill(path), bearer("żółw"))
            _refused(f"{method} {path}", got, 400)
    assert stack.raw == []


async def test_every_path_parameter_refuses_an_encoded_slash_dots_and_nul(stack: Stack) -> None:
    walked = 0
    for method, path, op in _operations():
        headers = {}
        if _protected(op):
            headers = (
                stack.issuer.operator()
                if _operator_route(path)
                else stack.issuer.customer("123456")
            )
        for name in re.findall(r"{(\w+)}", path):
            for bad in BAD:
                got = await _call(stack, method, _fill(path, (name, bad)), headers)
                # 400 naming the parameter; 404 where the gateway's own route knows no such
                # thing (a portal section) — never an answer from a service.
                _refused(f"{method} {path} {name}={bad}", got, 400, 404)
                walked += 1
    assert walked >= 40
    assert stack.raw == [], "a bad parameter reached a service"
