"""The OpenAPI document describes the whole public API from the one contract the services
validate with (``ebok_shared.api``): every route the gateway answers or passes on, operator
routes included; every JSON answer with its schema; the problems each route can give; query
parameters, multipart bodies and the correspondence document per kind. And it validates."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aiohttp import web
from ebok_auth import http_customer as auth_customer
from ebok_auth import http_operator as auth_operator
from ebok_auth import http_public as auth_public
from ebok_billing import http_customer as billing_customer
from ebok_billing import http_operator as billing_operator
from ebok_billing import http_payments as billing_payments
from ebok_correspondence import documents
from ebok_correspondence import http_customer as correspondence_customer
from ebok_correspondence import http_operator as correspondence_operator
from ebok_gateway import openapi
from ebok_gateway.routes import PREFIX, ROUTES
from ebok_notifier import http_operator as notifier_operator
from ebok_readings import http_customer as readings_customer
from ebok_readings import http_operator as readings_operator
from ebok_shared.api import correspondence as correspondence_api
from ebok_shared.http import dead_letters
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

# Each service's own route tables, and the dead-letter routes every service gets from shared.
SERVED: dict[str, tuple[web.RouteTableDef, ...]] = {
    "auth": (auth_public.routes, auth_customer.routes, auth_operator.routes),
    "billing": (billing_customer.routes, billing_operator.routes, billing_payments.routes),
    "readings": (readings_customer.routes, readings_operator.routes),
    "correspondence": (correspondence_customer.routes, correspondence_operator.routes),
    "notifier": (notifier_operator.routes,),
}
SERVED = {name: (*tables, dead_letters.routes) for name, tables in SERVED.items()}
# What the services serve to the gateway only (never under /api/v1 as it is).
NOT_PUBLIC = {"/me/export", "/me/data", "/.well-known/jwks.json", "/service-tokens"}


def _served(service: str) -> set[tuple[str, str]]:
    """(method, path) of every route the service's app answers; ``{x:regex}`` as ``{x}``."""
    found = set()
    for table in SERVED[service]:
        for route in table:
            assert isinstance(route, web.RouteDef)
            path = re.sub(r"{(\w+):(?:[^{}]|{[^{}]*})*}", r"{\1}", route.path)
            if path not in NOT_PUBLIC:
                found.add((route.method, path))
    return found


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return openapi.document()


def _op(doc: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    operation: dict[str, Any] = doc["paths"][PREFIX + path][method.lower()]
    return operation


def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    validate(doc)  # raises on the first error
    assert doc["openapi"] == "3.1.0"
    for schema in _schemas(doc):
        Draft202012Validator.check_schema(schema)


def test_every_route_of_every_service_is_documented_and_nothing_else(
    doc: dict[str, Any],
) -> None:
    """The route table holds every route: the services' customer and operator routes
    (``/operator/<service>/…``) and the gateway's own."""
    for service in SERVED:
        documented = {(r.method, r.service_path) for r in ROUTES if r.service == service}
        assert documented == _served(service), service
        assert set(openapi.CONTRACTS[service]) == documented, service
    gateway = {(r.method, r.path) for r in ROUTES if r.service == "gateway"}
    assert set(openapi.CONTRACTS["gateway"]) == gateway
    operations = {
        (method.upper(), path.removeprefix(PREFIX))
        for path, methods in doc["paths"].items()
        for method in methods
    }
    assert operations == {(r.method, r.path) for r in ROUTES}
    operator = {(m, p) for m, p in operations if p.startswith("/operator/")}
    assert len(operator) >= 45, sorted(operator)


def test_every_json_answer_has_its_schema_and_every_error_the_problem(
    doc: dict[str, Any],
) -> None:
    for route in ROUTES:
        responses = _op(doc, route.method, route.path)["responses"]
        ok = responses[str(route.ok)]
        if route.binary:
            assert set(ok["content"]) == set(route.media_types), route
        elif route.ok == 204:
            assert "content" not in ok, route
        else:
            schema = ok["content"]["application/json"]["schema"]
            assert schema.get("type") == "object" and schema["properties"], route
        errors = [s for s in responses if s != "default" and int(s) >= 400]
        assert errors, route
        for status in [*errors, "default"]:
            content = responses[status]["content"]
            assert set(content) == {"application/problem+json"}, (route, status)
        if route.access != "public":
            assert {"401", "403"} <= set(errors), route
    # Own errors of a route come from its contract (an invoice that is not the customer's).
    assert "404" in _op(doc, "GET", "/me/invoices/{number}")["responses"]
    assert "409" in _op(doc, "POST", "/operator/auth/accounts/{client_number}/block")["responses"]
    assert "423" in _op(doc, "POST", "/me/correspondence")["responses"]  # section read-only


def test_the_problem_schema_is_what_the_services_answer(doc: dict[str, Any]) -> None:
    from ebok_shared.http.problems import Problem, validation_problem

    problem_schema = doc["components"]["schemas"]["Problem"]
    validator = Draft202012Validator(problem_schema)
    answers = [
        validation_problem([{"field": "email", "reason": "pole jest wymagane"}]).to_dict("/x"),
        Problem(403, code="password-change-required", restrictions=["password_change"]).to_dict(),
        # a back-office feed's errors name the line too (ebok_shared.feed.LineError)
        {**validation_problem([]).to_dict(), "errors": [{"line": 3, "field": "g", "reason": "r"}]},
    ]
    for answer in answers:
        validator.validate(answer)
    with pytest.raises(Exception):  # noqa: B017 - any validation error
        validator.validate({"title": "x", "status": 422, "detail": "x"})  # no type


def test_list_query_parameters_are_described(doc: dict[str, Any]) -> None:
    def names(method: str, path: str) -> set[str]:
        params = _op(doc, method, path).get("parameters", [])
        assert all(p.get("description") for p in params if p["in"] == "query"), path
        return {p["name"] for p in params if p["in"] == "query"}

    assert names("GET", "/me/invoices") == {"from", "to", "status", "page", "page_size"}
    assert {"status", "kind", "page", "page_size"} <= names("GET", "/me/correspondence")
    assert {"from", "to", "contract_number"} == names("GET", "/me/consumption")
    assert {"include"} == names("GET", "/me/dashboard")  # the portal's chart in the same call
    answer = _op(doc, "GET", "/me/dashboard")["responses"]["200"]["content"]["application/json"]
    parts = answer["schema"]
    assert "consumption" in parts["properties"] and "consumption" not in parts["required"]
    assert {"status", "page", "page_size"} == names("GET", "/me/garden-meter-requests")
    assert {"page", "page_size"} == names("GET", "/me/meters/{serial}/readings")
    assert {"status", "assignee", "kind"} <= names("GET", "/operator/correspondence/cases")
    assert {"q", "status", "limit", "offset"} == names("GET", "/operator/auth/accounts")
    status = next(p for p in _op(doc, "GET", "/me/invoices")["parameters"] if p["name"] == "status")
    assert status["schema"]["enum"] == ["unpaid", "partly_paid", "paid", "overdue", "corrected"]


def test_multipart_bodies_are_described(doc: dict[str, Any]) -> None:
    reading = _op(doc, "POST", "/me/meters/{serial}/readings")["requestBody"]["content"]
    form = reading["multipart/form-data"]["schema"]
    assert form["properties"]["photo"]["format"] == "binary"
    assert set(form["required"]) == {"value", "read_on"}
    garden = _op(doc, "POST", "/me/garden-meter-requests")["requestBody"]["content"]
    assert "photo" in garden["multipart/form-data"]["schema"]["properties"]
    letter = _op(doc, "POST", "/me/correspondence")["requestBody"]["content"]
    files = letter["multipart/form-data"]["schema"]["properties"]
    assert files["attachments"]["items"]["format"] == "binary"
    assert files["document"]["contentMediaType"] == "application/json"
    feed = _op(doc, "POST", "/operator/billing/feed/batches")["requestBody"]["content"]
    assert set(feed) == {"text/csv", "application/x-ndjson"}


def test_the_correspondence_body_is_one_schema_per_kind(doc: dict[str, Any]) -> None:
    body = _op(doc, "POST", "/me/correspondence")["requestBody"]["content"]["application/json"]
    schema = body["schema"]
    assert schema["discriminator"] == {"propertyName": "kind"}
    kinds = [s["properties"]["kind"]["const"] for s in schema["oneOf"]]
    assert kinds == list(correspondence_api.KINDS)
    validator = Draft202012Validator(schema)
    assert validator.is_valid({"kind": "letter", "subject": "Pytanie", "content": "Treść"})
    # A letter's fields under another kind fit no kind's schema.
    assert not validator.is_valid({"kind": "reklamacja", "subject": "Pytanie", "content": "x"})


def test_the_service_validates_with_the_documented_schemas(doc: dict[str, Any]) -> None:
    """The same objects, not equal copies: the service reads the contract module."""
    for kind, schema in documents.SCHEMAS.items():
        assert schema is correspondence_api.SCHEMAS[kind.value]
    assert (
        auth_public.schemas.REGISTRATION
        is openapi.CONTRACTS["auth"][("POST", "/registrations")].body
    )


def _schemas(doc: dict[str, Any]) -> list[dict[str, Any]]:
    found = [doc["components"]["schemas"]["Problem"]]
    for methods in doc["paths"].values():
        for operation in methods.values():
            for param in operation.get("parameters", []):
                found.append(param["schema"])
            for media in operation.get("requestBody", {}).get("content", {}).values():
                found.append(media["schema"])
            for answer in operation["responses"].values():
                for media in answer.get("content", {}).values():
                    if "$ref" not in media["schema"]:
                        found.append(media["schema"])
    return found


def test_the_e2e_answer_checker_fails_an_answer_the_document_does_not_describe(
    doc: dict[str, Any],
) -> None:
    """tests/e2e/contract.py checks every answer of the end-to-end tests: it must let a
    documented answer through and stop one that is not."""
    from tests.e2e.contract import Answer, Contract

    checker = Contract(doc)
    token = {"access_token": "a.b.c", "token_type": "Bearer", "refresh_token": "r" * 20}
    good = {**token, "expires_in": 300, "password_change_required": False, "restrictions": []}
    checker.check(Answer("POST", "/sessions", 201, "application/json", json.dumps(good).encode()))
    problem = {"type": "t", "title": "t", "status": 404, "detail": "Nie ma.", "code": "not-found"}
    checker.check(
        Answer(
            "GET",
            "/me/contracts/U%2F100002%2F2023",
            404,
            "application/problem+json",
            json.dumps(problem).encode(),
        )
    )
    wrong = [
        Answer("POST", "/sessions", 201, "application/json", json.dumps(token).encode()),
        Answer("POST", "/sessions", 201, "text/html", b"<p>"),
        Answer("GET", "/me/invoices", 404, "application/json", json.dumps(problem).encode()),
        Answer("GET", "/nie-ma-takiej", 200, "application/json", b"{}"),
        Answer("POST", "/me/totp/removal", 204, "application/json", b"{}"),
    ]
    for answer in wrong:
        with pytest.raises(AssertionError):
            checker.check(answer)
    assert checker.checked == 2 + len(wrong)
