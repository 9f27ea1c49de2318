"""A service checks its answers against its contract (``ebok_shared.http.answers``): the
documented answer passes, anything else is logged and becomes a 500."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from ebok_shared.api import auth
from ebok_shared.http.answers import answer_check_middleware, mismatch
from ebok_shared.http.problems import Problem, problem_middleware

ME = {
    "client_number": "100001",
    "email": "a@example.pl",
    "status": "active",
    "created_at": "2026-01-01T10:00:00+00:00",
    "activated_at": None,
    "password_changed_at": None,
    "totp_enabled": False,
    "regulations": {"accepted_version": 1, "current_version": 1},
}


def test_an_answer_is_held_to_its_routes_schema() -> None:
    contract = auth.OPERATIONS
    assert mismatch(contract, "GET", "/me", 200, ME) is None
    assert mismatch(contract, "GET", "/me", 200, {**ME, "totp_enabled": "no"}) is not None
    missing = {k: v for k, v in ME.items() if k != "email"}
    assert "email" in str(mismatch(contract, "GET", "/me", 200, missing))
    assert mismatch(contract, "GET", "/me", 200, {**ME, "created_at": "wczoraj"}) is not None
    assert mismatch(contract, "GET", "/me", 404, Problem(404).to_dict()) is None
    assert mismatch(contract, "GET", "/me", 404, {"status": 404}) is not None
    assert mismatch(contract, "POST", "/me/totp/removal", 204, {}) is not None  # no JSON
    assert mismatch(contract, "GET", "/internal/x", 200, {"any": 1}) is None  # not public


async def test_an_answer_off_the_contract_becomes_a_500() -> None:
    async def me(request: web.Request) -> web.Response:
        body: dict[str, Any] = dict(ME) if request.query.get("ok") else {"client_number": 1}
        return web.json_response(body)

    app = web.Application(
        middlewares=[answer_check_middleware(auth.OPERATIONS), problem_middleware]
    )
    app.router.add_get("/me", me)
    async with TestClient(TestServer(app)) as client:
        good = await client.get("/me?ok=1")
        assert good.status == 200 and await good.json() == ME
        bad = await client.get("/me")
        assert bad.status == 500
        assert (await bad.json())["code"] == "answer-off-contract"
