"""The public API keeps its own document: a bounded property-based run (schemathesis) of
every operation in the running gateway's ``/api/v1/openapi.json`` over the whole stack of
real processes, the customers' operations with a real customer's token and the operators'
(``/operator/…``) with a real operator's, first with data the document allows, then with
data it does not. No answer is a 5xx, and every answer conforms to the document: a
documented status, the documented content type (problem+json for every error) and a body
matching the documented schema.

Schemathesis calls the API synchronously; it runs in a worker thread, so the event loop
keeps reading the stack's output (a child whose output pipe fills would stall).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .client import Api, expect
from .data import load_customers
from .journeys import Session, log_in, onboard, operator_session
from .stack import Stack

pytestmark = pytest.mark.timeout(420)  # a stack, five sessions, ~950 calls; under load

# A customer per mode (the gateway lets one account make 300 calls a minute) and one who
# logs out and leaves.
POSITIVE, NEGATIVE, LEAVER = "730001", "730002", "730003"
# Per operation and mode: ~45 customer operations, some 450 calls in all, under the gateway's
# 600 a minute per address; the ~50 operator operations are called from another address
# (the test stack's gateway trusts X-Forwarded-For), an operator per mode (300 a minute
# per account).
MAX_EXAMPLES = 5
OPERATOR_ADDRESS = "198.51.100.7"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# They end the session under test: checked once each, with the leaver's sessions.
ENDING = {("DELETE", "/api/v1/sessions/current"), ("DELETE", "/api/v1/me")}


@pytest.fixture(scope="module")
async def operators(api: Api, stack: Stack) -> list[Session]:
    return [await operator_session(api, stack) for _ in range(2)]


@pytest.fixture(scope="module")
async def customers(api: Api, stack: Stack, workdir: Path) -> dict[str, Session]:
    loaded = await load_customers(stack, [POSITIVE, NEGATIVE, LEAVER], workdir)
    return {c.client_number: await onboard(api, stack, c) for c in loaded}


def _operations(url: str) -> dict[tuple[str, str], Any]:
    schema = schemathesis.openapi.from_url(url)
    operations = {}
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # the document itself is broken here
            raise AssertionError(f"invalid operation in the document: {result.err()}")
        operation = result.ok()
        operations[(operation.method.upper(), operation.path)] = operation
    return operations


@dataclass(frozen=True)
class Caller:
    """Who calls: a token per generation mode, from an address."""

    tokens: dict[GenerationMode, str]
    headers: dict[str, str] = field(default_factory=dict)


def _fuzz(
    operation: Any,
    base_url: str,
    token: str,
    headers: dict[str, str],
    http: requests.Session,
    seen: Counter[int],
    mode: GenerationMode,
) -> None:
    """Up to MAX_EXAMPLES generated calls of one operation; raises on the first failure.
    ``seen`` counts the statuses that came back."""

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the failure as it came
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(
            base_url=base_url,
            session=http,
            headers={**headers, "Authorization": f"Bearer {token}"},
        )
        seen[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    run()


@dataclass
class Outcome:
    operations: int = 0
    failures: list[str] = field(default_factory=list)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)


def _is_operators(key: tuple[str, str]) -> bool:
    return key[1].startswith("/api/v1/operator/") and key[1] != "/api/v1/operator/sessions"


def _run_all(url: str, base_url: str, customer: Caller, operator: Caller) -> Outcome:
    """Every operation with data the document allows, then with data it does not (which
    must be refused with a problem, never fail with a 5xx): the customers' first, then the
    operators' (whose changes, e.g. a section switched off, would disturb the customers')."""
    operations = _operations(url)
    outcome = Outcome(len(operations))
    with requests.Session() as http:
        for caller, operators in ((customer, False), (operator, True)):
            for mode, token in caller.tokens.items():
                for key, operation in sorted(operations.items()):
                    if key in ENDING or _is_operators(key) != operators:
                        continue
                    _fuzz_one(outcome, key, operation, base_url, caller, token, http, mode)
    return outcome


def _fuzz_one(
    outcome: Outcome,
    key: tuple[str, str],
    operation: Any,
    base_url: str,
    caller: Caller,
    token: str,
    http: requests.Session,
    mode: GenerationMode,
) -> None:
    name = f"{key[0]} {key[1]} ({mode.value})"
    seen = outcome.statuses.setdefault(name, Counter())
    try:
        _fuzz(operation, base_url, token, caller.headers, http, seen, mode)
    except Unsatisfiable:
        pass  # nothing in this operation can be made invalid
    # Every operation runs; all failures are reported (schemathesis raises a FailureGroup,
    # a BaseExceptionGroup).
    except (Exception, BaseExceptionGroup) as exc:
        outcome.failures.append(f"{name}:\n{exc!r}")


def _call_once(
    url: str, base_url: str, key: tuple[str, str], token: str, body: dict[str, Any] | None
) -> int:
    operation = _operations(url)[key]
    case = (
        operation.Case()
        if body is None
        else operation.Case(body=body, media_type="application/json")
    )
    response = case.call(base_url=base_url, headers={"Authorization": f"Bearer {token}"})
    case.validate_response(response, checks=CHECKS)
    return int(response.status_code)


async def test_every_operation_conforms_to_the_document(
    api: Api, stack: Stack, customers: dict[str, Session], operators: list[Session]
) -> None:
    url = stack.api + "/openapi.json"
    document = expect(await api.get("/openapi.json"), 200)
    assert document["openapi"].startswith("3.1")

    # Logging out, then deleting the account: once each, checked like the rest.
    leaver = customers[LEAVER]
    other = await log_in(api, leaver.login, leaver.password)
    logout = ("DELETE", "/api/v1/sessions/current")
    assert await _once(url, stack, logout, str(other["access_token"]), None) == 204
    delete = ("DELETE", "/api/v1/me")
    wrong = {"current_password": "Nie-To-Haslo-1", "confirm": True}
    assert await _once(url, stack, delete, leaver.access, wrong) == 422
    right = {"current_password": leaver.password, "confirm": True}
    assert await _once(url, stack, delete, leaver.access, right) == 200

    customer = Caller(
        {
            GenerationMode.POSITIVE: customers[POSITIVE].access,
            GenerationMode.NEGATIVE: customers[NEGATIVE].access,
        }
    )
    operator = Caller(
        {
            GenerationMode.POSITIVE: operators[0].access,
            GenerationMode.NEGATIVE: operators[1].access,
        },
        {"X-Forwarded-For": OPERATOR_ADDRESS},
    )
    started = time.monotonic()
    outcome = await asyncio.to_thread(_run_all, url, stack.gateway_url, customer, operator)
    took = time.monotonic() - started
    assert outcome.operations >= 90, f"only {outcome.operations} operations documented"
    assert not outcome.failures, f"{len(outcome.failures)} operation(s) failed:\n\n" + (
        "\n\n".join(outcome.failures)
    )
    print(_summary(outcome), f"\n{outcome.operations} operations in {took:.0f} s")
    called = sum(outcome.statuses.values(), Counter())
    assert called.total() >= outcome.operations, called
    # The tokens opened the customer's routes: their data came back, not only refusals.
    answered = [name for name, seen in outcome.statuses.items() if _ok(seen)]
    for name in ("GET /api/v1/me/dashboard", "GET /api/v1/me/invoices"):
        assert f"{name} (positive)" in answered, _summary(outcome)
    # The operator's token opened the operator routes of every service and the gateway's.
    for name in (
        "GET /api/v1/operator/auth/accounts",
        "GET /api/v1/operator/billing/tariffs",
        "GET /api/v1/operator/readings/reading-windows",
        "GET /api/v1/operator/correspondence/cases",
        "GET /api/v1/operator/notifier/campaigns",
        "GET /api/v1/operator/portal-settings",
    ):
        assert f"{name} (positive)" in answered, _summary(outcome)
    assert called[429] < called.total() / 10, _summary(outcome)  # not a run of refusals


async def _once(
    url: str, stack: Stack, key: tuple[str, str], token: str, body: dict[str, Any] | None
) -> int:
    return await asyncio.to_thread(_call_once, url, stack.gateway_url, key, token, body)


def _ok(seen: Counter[int]) -> bool:
    return any(200 <= status < 300 for status in seen)


def _summary(outcome: Outcome) -> str:
    lines = [f"{name}: {dict(sorted(seen.items()))}" for name, seen in outcome.statuses.items()]
    return "statuses per operation:\n" + "\n".join(lines)
