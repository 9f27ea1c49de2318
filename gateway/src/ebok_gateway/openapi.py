"""The OpenAPI 3.1 document of the public API, built from the route table (so a route cannot
exist without being documented) plus the gateway's own routes."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from .portal import SECTIONS
from .request_bodies import BODIES
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

# The gateway's own routes (not proxied): path → method → (summary, access)
OWN_ROUTES: dict[str, dict[str, tuple[str, str]]] = {
    "/me/dashboard": {"get": ("Pulpit klienta (widok zbiorczy)", "customer")},
    "/me/export": {"get": ("Eksport moich danych (RODO)", "customer")},
    "/me/export/archive": {
        "get": ("Eksport moich danych z plikami: archiwum ZIP z manifestem (RODO)", "customer")
    },
    "/openapi.json": {"get": ("Dokument OpenAPI", "public")},
    "/portal/sections": {"get": ("Stan sekcji portalu (włączona, tylko do odczytu, …)", "public")},
    "/operator/portal-settings": {"get": ("Ustawienia portalu", "operator")},
    "/operator/portal-settings/history": {"get": ("Historia zmian ustawień portalu", "operator")},
    "/operator/portal-settings/sections/{section}": {
        "put": ("Ukrycie lub zawieszenie sekcji", "operator")
    },
    "/operator/portal-settings/sections/{section}/items/{item_id}": {
        "put": ("Ukrycie pojedynczej pozycji", "operator")
    },
}
_NO_BODY = {("POST", "/me/totp")}  # POST or PUT routes that read no body

# What the owning services accept in each path parameter (anything else is 400 or 404).
_INVOICE_NUMBER = {"type": "string", "pattern": r"^\d{10,20}$"}
_CONTRACT_NUMBER = {"type": "string", "pattern": r"^[A-Z0-9/-]{3,40}$"}
_UUID = {"type": "string", "format": "uuid"}
_PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "serial": {"type": "string", "pattern": r"^[A-Z0-9-]{3,30}$"},
    "case_id": _UUID,
    "attachment_id": _UUID,
    "photo_id": _UUID,
    "version": {"type": "string", "pattern": r"^\d{1,6}$"},
    "section": {"type": "string", "enum": list(SECTIONS)},
}


_NO_CACHE = {
    "name": "Cache-Control",
    "in": "header",
    "required": False,
    "description": "no-cache: każda część pulpitu pobrana wprost z usługi (np. po odświeżeniu).",
    "schema": {"type": "string", "enum": ["no-cache"]},
}


def _path_parameter(path: str, name: str) -> dict[str, Any]:
    if name == "number":
        schema = _CONTRACT_NUMBER if path.startswith("/me/contracts/") else _INVOICE_NUMBER
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
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "operationId": f"{method}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_') or 'root'}",
        "responses": {str(ok): _success(ok, media_types), "default": _PROBLEM_RESPONSE},
        "tags": [access],
    }
    params = re.findall(r"{(\w+)}", path)
    if params:
        op["parameters"] = [_path_parameter(path, p) for p in params]
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
        )
    for path, methods in OWN_ROUTES.items():
        for method, (summary, access) in methods.items():
            paths.setdefault(PREFIX + path, {})[method] = _operation(summary, access, path, method)
    paths[PREFIX + "/me/dashboard"]["get"]["parameters"] = [_NO_CACHE]
    archive = paths[PREFIX + "/me/export/archive"]["get"]["responses"]
    archive["200"] = _success(200, ("application/zip",))  # data, files and a manifest
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
