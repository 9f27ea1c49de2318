"""Operator roles, least privilege: each operator route needs exactly one role, carried in
the operator's token (the ``roles`` claim auth signs) and checked by the service that serves
the route (the gateway checks it too, but a call straight to a service meets the same rule).

- ``customer_service``: cases, garden-meter requests, readings to verify, meters and photos,
  account search and view, block/unblock, deletion on request, the audit log, failed e-mail
  deliveries and their resending.
- ``billing``: the back office's feeds (billing, readings, meters), reference and EUR rate
  tables, tariffs, interest notes, reading windows, hiding single invoices and contracts.
- ``content``: new terms (preview, publishing) and their campaigns, the portal's section
  switches and their history.
- ``admin``: operators and their roles, and the dead-letter queues of every service.

``admin`` does not imply the others: an admin who also works cases is given
``customer_service`` too (and can give it to themselves, which the audit log records).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler

from ..logs import get_logger
from .problems import Problem
from .tokens import Principal

log = get_logger(__name__)

CUSTOMER_SERVICE = "customer_service"
BILLING = "billing"
CONTENT = "content"
ADMIN = "admin"
ROLES: tuple[str, ...] = (CUSTOMER_SERVICE, BILLING, CONTENT, ADMIN)

# What an operator reads in a refusal and in the console.
LABELS = {
    CUSTOMER_SERVICE: "Obsługa klienta",
    BILLING: "Rozliczenia",
    CONTENT: "Treści i portal",
    ADMIN: "Administrator",
}

H = TypeVar("H", bound=Callable[..., Any])


def operator_role(role: str) -> Callable[[H], H]:
    """Mark an operator handler: only an operator whose token holds ``role`` reaches it (the
    shared auth middleware refuses everyone else before the handler runs)."""
    if role not in ROLES:
        raise ValueError(f"unknown operator role {role!r}")

    def mark(handler: H) -> H:
        # a marker attribute on the handler function, read by the auth middleware
        handler.ebok_role = role  # type: ignore[attr-defined]
        return handler

    return mark


def role_of(handler: Handler) -> str | None:
    """The role a handler was marked with (None: not an operator route)."""
    return getattr(handler, "ebok_role", None)


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return f"{request.method} {resource.canonical if resource is not None else request.path}"


def check_role(request: web.Request, principal: Principal, role: str) -> None:
    """403 unless ``principal`` is an operator holding ``role``; each refusal is logged with
    who asked and for which route (never the token)."""
    if principal.kind != "operator":
        log.warning(
            "operator route refused",
            reason="not an operator",
            principal=f"{principal.kind}:{principal.subject}",
            route=_route(request),
            required_role=role,
        )
        raise Problem(403, "Nie masz uprawnień do tej operacji.", code="forbidden")
    if role not in principal.roles:
        log.warning(
            "operator route refused",
            reason="role missing",
            operator=principal.subject,
            route=_route(request),
            required_role=role,
            roles=sorted(principal.roles),
        )
        raise Problem(
            403,
            f"Ta operacja wymaga roli „{LABELS[role]}” ({role}).",
            code="role-required",
            role=role,
        )
