"""The OpenAPI 3.1 document of the public API, built from the route table (so a route cannot
exist without being documented) plus the gateway's own routes."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from .routes import PREFIX, ROUTES, Route

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

# The gateway's own routes (not proxied): path → method → (summary, access, binary)
OWN_ROUTES: dict[str, dict[str, tuple[str, str]]] = {
    "/me/dashboard": {"get": ("Pulpit klienta (widok zbiorczy)", "customer")},
    "/me/export": {"get": ("Eksport moich danych (RODO)", "customer")},
    "/openapi.json": {"get": ("Dokument OpenAPI", "public")},
    "/operator/portal-settings": {"get": ("Ustawienia portalu", "operator")},
    "/operator/portal-settings/history": {"get": ("Historia zmian ustawień portalu", "operator")},
    "/operator/portal-settings/sections/{section}": {
        "put": ("Ukrycie lub zawieszenie sekcji", "operator")
    },
    "/operator/portal-settings/sections/{section}/items/{item_id}": {
        "put": ("Ukrycie pojedynczej pozycji", "operator")
    },
}


def _operation(summary: str, access: str, path: str, method: str, binary: bool) -> dict[str, Any]:
    ok_content: dict[str, Any] = (
        {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
        if binary
        else {"application/json": {"schema": {}}}
    )
    success = {"post": "201" if path in ("/sessions",) else "200"}.get(method, "200")
    responses: dict[str, Any] = {
        success: {"description": "OK", "content": ok_content},
        "default": _PROBLEM_RESPONSE,
    }
    if method == "post" and path in ("/registrations", "/password-resets"):
        responses = {
            "202": {"description": "Przyjęto", "content": ok_content},
            "default": _PROBLEM_RESPONSE,
        }
    op: dict[str, Any] = {
        "summary": summary,
        "operationId": f"{method}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_') or 'root'}",
        "responses": responses,
        "tags": [access],
    }
    params = re.findall(r"{(\w+)}", path)
    if params:
        op["parameters"] = [
            {
                "name": p,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "maxLength": 64},
            }
            for p in params
        ]
    op["security"] = [] if access == "public" else [{"bearer": []}]
    if method in ("post", "put"):
        op["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    return op


@cache
def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    route: Route
    for route in ROUTES:
        paths.setdefault(PREFIX + route.path, {})[route.method.lower()] = _operation(
            route.summary, route.access, route.path, route.method.lower(), route.binary
        )
    for path, methods in OWN_ROUTES.items():
        for method, (summary, access) in methods.items():
            paths.setdefault(PREFIX + path, {})[method] = _operation(
                summary, access, path, method, False
            )
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
