"""The OpenAPI 3.1 document of the public API, built from the route tables (so a route cannot
exist without being documented) and the contract every service validates with
(``ebok_shared.api``: request and answer schemas, query parameters, the errors particular to
a route). Nothing here is a copy of a service's schema."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from ebok_shared.api import auth, billing, correspondence, gateway, notifier, readings
from ebok_shared.api.types import PROBLEM, Operation
from ebok_shared.http.problems import TITLES
from ebok_shared.http.roles import LABELS

from .routes import PREFIX, ROUTES, Route

# Each service's contract, by the name the route tables give the service.
CONTRACTS: dict[str, dict[tuple[str, str], Operation]] = {
    "auth": auth.OPERATIONS,
    "billing": billing.OPERATIONS,
    "readings": readings.OPERATIONS,
    "correspondence": correspondence.OPERATIONS,
    "notifier": notifier.OPERATIONS,
    "gateway": gateway.OPERATIONS,
}

_PROBLEM_CONTENT = {
    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
}
_OTHER_ERROR = {"description": "Inny błąd (RFC 9457)", "content": _PROBLEM_CONTENT}

_NO_CACHE = {
    "name": "Cache-Control",
    "in": "header",
    "required": False,
    "description": "no-cache: każda część pulpitu pobrana wprost z usługi (np. po odświeżeniu).",
    "schema": {"type": "string", "enum": ["no-cache"]},
}

_IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "ETag widoku z poprzedniej odpowiedzi: 304 bez treści, gdy widok jest ten sam.",
    "schema": {"type": "string"},
}
_ETAG = {
    "ETag": {
        "description": "Znacznik tej wersji widoku (do If-None-Match).",
        "schema": {"type": "string"},
    }
}


def contract(route: Route) -> Operation:
    """The route's contract, as its owning service keeps it."""
    return CONTRACTS[route.service][(route.method, route.service_path)]


def _path_parameter(route: Route, name: str) -> dict[str, Any]:
    """A path parameter as the gateway lets it through: the route table's own pattern."""
    schema = {"type": "string", "pattern": f"^(?:{route.params[name]})$"}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query_parameter(param: Any) -> dict[str, Any]:
    return {
        "name": param.name,
        "in": "query",
        "required": False,
        "description": param.description,
        "schema": param.schema,
    }


def _success(route: Route, op: Operation) -> dict[str, Any]:
    """The success answer: a JSON document, a file, or nothing (204)."""
    if route.binary:
        binary = {"schema": {"type": "string", "format": "binary"}}
        return {"description": "Plik", "content": {m: binary for m in route.media_types}}
    if op.answer is None:
        return {"description": "Bez treści"}
    return {"description": "OK", "content": {"application/json": {"schema": op.answer}}}


def error_statuses(route: Route, op: Operation) -> list[int]:
    """The problems this route can answer: those of every route like it (its audience, its
    parameters and body, its portal section, the hop to its service) and its own."""
    statuses = {429}  # the per-address and per-account limits count every call
    if route.access != "public":
        statuses |= {401, 403}
    if "{" in route.path:
        statuses |= {400, 404}
    if op.query:
        statuses.add(400)
    if op.body is not None or op.form is not None or op.raw_body:
        statuses |= {400, 413, 415, 422}
    if route.section is not None:
        statuses |= {404, 503}  # hidden, switched off
        if route.method != "GET":
            statuses.add(423)  # read only
    if route.service != "gateway":
        statuses |= {502, 503, 504}  # the owning service failed, is away or too slow
    return sorted(statuses | set(op.errors))


def _request_body(op: Operation) -> dict[str, Any] | None:
    content: dict[str, Any] = {}
    if op.body is not None:
        content["application/json"] = {"schema": op.body}
    if op.form is not None:
        content["multipart/form-data"] = {"schema": op.form}
    for media_type in op.raw_body:
        content[media_type] = {"schema": {"type": "string"}}
    if not content:
        return None
    return {"required": not op.body_optional, "content": content}


def _operation(route: Route) -> dict[str, Any]:
    op = contract(route)
    path, method = route.path, route.method.lower()
    responses: dict[str, Any] = {}
    for status in (route.ok, *op.also_ok):
        responses[str(status)] = _success(route, op)
    for status in error_statuses(route, op):
        description = f"{TITLES.get(status, 'Błąd')} (RFC 9457)"
        responses.setdefault(str(status), {"description": description, "content": _PROBLEM_CONTENT})
    responses["default"] = _OTHER_ERROR
    document: dict[str, Any] = {
        "summary": route.summary,
        "operationId": f"{method}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
        "tags": [route.access],
        "responses": responses,
        "security": [] if route.access == "public" else [{"bearer": []}],
    }
    if route.role is not None:  # the table's role is the one source
        document["x-required-role"] = route.role
        document["description"] = f"Wymaga roli pracownika „{LABELS[route.role]}” ({route.role})."
    parameters = [_path_parameter(route, p) for p in re.findall(r"{(\w+)}", path)]
    parameters += [_query_parameter(p) for p in op.query]
    if parameters:
        document["parameters"] = parameters
    body = _request_body(op)
    if body is not None:
        document["requestBody"] = body
    return document


@cache
def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(PREFIX + route.path, {})[route.method.lower()] = _operation(route)
    dashboard = paths[PREFIX + "/me/dashboard"]["get"]
    dashboard["parameters"] = [*dashboard.get("parameters", []), _NO_CACHE, _IF_NONE_MATCH]
    dashboard["responses"]["200"]["headers"] = _ETAG
    dashboard["responses"]["304"] = {
        "description": "Widok bez zmian od tego wskazanego w If-None-Match.",
        "headers": _ETAG,
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "e-BOK — Internetowe Biuro Obsługi Klienta",
            "version": "1.0.0",
            "description": "Publiczne API e-BOK. Każdy błąd to application/problem+json "
            "(RFC 9457): `errors` wskazuje każde błędne pole i powód.",
        },
        "paths": paths,
        "components": {
            "schemas": {"Problem": PROBLEM},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
