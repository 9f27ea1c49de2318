"""The one base of every refusal the rules make, in every service.

Use cases and domain code raise a ``Refusal`` (or a subclass); they never know HTTP. The
shared error renderer (``ebok_shared.http.problems.render``) turns any ``Refusal`` into an
RFC 9457 problem in one place, so handlers need no ``except`` clauses for it. Pure: no I/O,
no aiohttp.
"""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    """A request the rules refuse: the HTTP-like ``status`` it means, a stable ``code``, a
    Polish ``detail`` for people and, where it concerns one field, that ``field`` and its
    ``reason``. ``extra`` goes into the problem document as further members."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        reason: str | None = None,
        errors: list[dict[str, str]] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.reason = reason or detail
        self.extra = extra
        if errors is None and field is not None:
            errors = [{"field": field, "reason": self.reason}]
        self.errors = errors


def invalid(field: str, reason: str, code: str = "validation", **extra: Any) -> Refusal:
    """422: one field's value breaks a rule."""
    return Refusal(422, code, f"{field}: {reason}", field=field, reason=reason, **extra)


def not_found(detail: str, code: str = "not-found") -> Refusal:
    return Refusal(404, code, detail)


def conflict(code: str, detail: str, **extra: Any) -> Refusal:
    """409: the current state does not allow it."""
    return Refusal(409, code, detail, **extra)
