"""A service checks its own answers against its contract (``ebok_shared.api``): the JSON
answer of each route must match the schema the API document gives for it, every error the
problem schema. On in test stacks (``EBOK_CHECK_ANSWERS=1``), off in production: an answer
that does not match is logged and becomes a 500, so the test that got it fails."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from jsonschema import Draft202012Validator, FormatChecker

from ..api.types import PROBLEM, Operation
from ..logs import get_logger
from .problems import CONTENT_TYPE as PROBLEM_TYPE
from .problems import Problem, problem_response

log = get_logger(__name__)


# The validator of each schema object, by its id: the contract's schemas are constants, and
# serialising one to look its validator up cost more than the check. The entry holds the
# schema, so its id cannot be reused while the entry stays.
_VALIDATORS: dict[int, tuple[dict[str, Any], Draft202012Validator]] = {}


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    entry = _VALIDATORS.get(id(schema))
    if entry is None:
        entry = (schema, Draft202012Validator(schema, format_checker=FormatChecker()))
        _VALIDATORS[id(schema)] = entry
    return entry[1]


def mismatch(
    contract: Mapping[tuple[str, str], Operation], method: str, path: str, status: int, body: Any
) -> str | None:
    """Why the answer does not match the contract of (method, path), or None."""
    if status >= 400:
        schema: dict[str, Any] = PROBLEM
    else:
        operation = contract.get((method, path))
        if operation is None:
            return None  # not a public route (internal, health): no contract to hold to
        if operation.answer is None:
            return "a JSON answer where the contract gives none"
        schema = operation.answer
    error = next(iter(_validator(schema).iter_errors(body)), None)
    if error is None:
        return None
    at = "/".join(str(p) for p in error.absolute_path) or "(body)"
    return f"{at}: {error.message[:300]}"


def answer_check_middleware(contract: Mapping[tuple[str, str], Operation]) -> Any:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if not isinstance(response, web.Response) or response.content_type not in (
            "application/json",
            PROBLEM_TYPE,
        ):
            return response
        route = request.match_info.route.resource
        path = route.canonical if route is not None else request.path
        body = json.loads(response.body) if isinstance(response.body, bytes) else None
        why = mismatch(contract, request.method, path, response.status, body)
        if why is None:
            return response
        log.error(
            "answer does not match the contract",
            method=request.method,
            path=path,
            status=response.status,
            why=why,
        )
        return problem_response(Problem(500, code="answer-off-contract"), request.path)

    return check
