"""The one base of every refusal the rules make, in every service.

Use cases and domain code raise a ``Refusal`` (or a subclass); they never know HTTP. The
shared error renderer (``ebok_shared.http.problems.render``) turns any ``Refusal`` into an
RFC 9457 problem in one place, so handlers need no ``except`` clauses for it. Pure: no I/O,
no aiohttp.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Refusal(Exception):
    """A request the rules refuse: the HTTP-like ``status`` it means, a stable ``code``, a
    Polish ``detail`` for people and, where it concerns one field, that ``field`` and its
    ``reason`` (or, for several fields, ``errors``: each field with its reason).
    ``retry_after``: seconds until trying again makes sense (a limit's window; the HTTP edge
    sends it as Retry-After). ``extra`` goes into the problem document as further members."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        reason: str | None = None,
        errors: list[dict[str, str]] | None = None,
        retry_after: int | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
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


def invalid_fields(errors: list[dict[str, str]]) -> Refusal:
    """422: several fields break rules; one refusal naming each with its reason."""
    return Refusal(
        422,
        "validation",
        "Popraw wskazane pola: " + "; ".join(f"{e['field']}: {e['reason']}" for e in errors),
        errors=errors,
    )


def gather(*checks: Callable[[], Any]) -> list[Any]:
    """Run every check and answer their results; when some refuse, refuse once naming every
    field that failed (a form's reader sees all its mistakes at once, not the first)."""
    results, errors = [], []
    for check in checks:
        try:
            results.append(check())
        except Refusal as refusal:
            errors.extend(refusal.errors or [{"field": "(body)", "reason": refusal.reason}])
    if errors:
        raise invalid_fields(errors)
    return results


def not_found(detail: str, code: str = "not-found") -> Refusal:
    return Refusal(404, code, detail)


def conflict(code: str, detail: str, **extra: Any) -> Refusal:
    """409: the current state does not allow it."""
    return Refusal(409, code, detail, **extra)
