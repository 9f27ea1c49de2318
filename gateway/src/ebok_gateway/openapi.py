"""The OpenAPI 3.1 document of the public API, built from the route table (so a route cannot
exist without being documented) plus the gateway's own routes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from ebok_shared.http.roles import LABELS

from .portal import SECTIONS
from .request_bodies import BODIES
from .routes import ITEM_ID, PREFIX, ROUTES, Route

PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "instance": {"type": "string"},
        "correlation_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}
_PROBLEM_RESPONSE = {
    "description": "Błąd (RFC 9457)",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}

# The gateway's own routes (not proxied): path → method → (summary, access)
OWN_ROUTES: dict[str, dict[str, tuple[str, str]]] = {
    "/me/dashboard": {"get": ("Pulpit klienta (widok zbiorczy)", "customer")},
    "/me/export": {"get": ("Eksport moich danych (RODO)", "customer")},
    "/openapi.json": {"get": ("Dokument OpenAPI", "public")},
    "/portal/sections": {"get": ("Stan sekcji portalu (włączona, tylko do odczytu, …)", "public")},
}
_NO_BODY = {("POST", "/me/totp")}  # POST or PUT routes that read no body

# The gateway's own routes' path parameters (the route table's carry their own patterns).
_PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "section": {"type": "string", "enum": list(SECTIONS)},
    "item_id": {"type": "string", "pattern": f"^(?:{ITEM_ID})$"},
}


_NO_CACHE = {
    "name": "Cache-Control",
    "in": "header",
    "required": False,
    "description": "no-cache: każda część pulpitu pobrana wprost z usługi (np. po odświeżeniu).",
    "schema": {"type": "string", "enum": ["no-cache"]},
}


def _path_parameter(name: str, patterns: Mapping[str, str]) -> dict[str, Any]:
    if name in patterns:  # the route table's: what the gateway lets through
        schema = {"type": "string", "pattern": f"^(?:{patterns[name]})$"}
    else:
        schema = _PATH_PARAMETERS.get(name, {"type": "string", "maxLength": 64})
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _success(status: int, media_types: tuple[str, ...] | None) -> dict[str, Any]:
    """The success answer: a JSON document, a binary document, or nothing (204)."""
    if status == 204:
        return {"description": "Bez treści"}
    if media_types:
        binary = {"schema": {"type": "string", "format": "binary"}}
        return {"description": "Dokument", "content": {m: binary for m in media_types}}
    return {"description": "OK", "content": {"application/json": {"schema": {}}}}


def _request_body(method: str, path: str) -> dict[str, Any] | None:
    schema = BODIES.get((method.upper(), path))
    if schema is None:
        if method not in ("post", "put") or (method.upper(), path) in _NO_BODY:
            return None
        schema, required = {"type": "object"}, False
    else:
        required = True
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _operation(
    summary: str,
    access: str,
    path: str,
    method: str,
    *,
    ok: int = 200,
    media_types: tuple[str, ...] | None = None,
    patterns: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "operationId": f"{method}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_') or 'root'}",
        "responses": {str(ok): _success(ok, media_types), "default": _PROBLEM_RESPONSE},
        "tags": [access],
    }
    params = re.findall(r"{(\w+)}", path)
    if params:
        op["parameters"] = [_path_parameter(p, patterns or {}) for p in params]
    op["security"] = [] if access == "public" else [{"bearer": []}]
    body = _request_body(method, path)
    if body is not None:
        op["requestBody"] = body
    return op


@cache
def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    route: Route
    for route in ROUTES:
        paths.setdefault(PREFIX + route.path, {})[route.method.lower()] = _operation(
            route.summary,
            route.access,
            route.path,
            route.method.lower(),
            ok=route.ok,
            media_types=route.media_types if route.binary else None,
            patterns=route.params,
        )
    for path, methods in OWN_ROUTES.items():
        for method, (summary, access) in methods.items():
            paths.setdefault(PREFIX + path, {})[method] = _operation(summary, access, path, method)
    paths[PREFIX + "/me/dashboard"]["get"]["parameters"] = [_NO_CACHE]
    _with_roles(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "e-BOK — Internetowe Biuro Obsługi Klienta",
            "version": "1.0.0",
            "description": "Publiczne API e-BOK. Każdy błąd to application/problem+json.",
        },
        "paths": paths,
        "components": {
            "schemas": {"Problem": PROBLEM},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def _with_roles(paths: dict[str, dict[str, Any]]) -> None:
    """Each operator route says the role it needs: ``x-required-role`` for tools, a sentence
    of its description for people (the table's ``role`` is the one source)."""
    for route in ROUTES:
        if route.role is None:
            continue
        op = paths[PREFIX + route.path][route.method.lower()]
        op["x-required-role"] = route.role
        needs = f"Wymaga roli pracownika „{LABELS[route.role]}” ({route.role})."
        op["description"] = f"{op['description']}\n\n{needs}" if op.get("description") else needs
