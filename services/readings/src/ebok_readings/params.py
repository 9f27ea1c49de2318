"""Path and query parameters, paging, and refusals turned into problems (Polish, per field)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from ebok_shared.http.problems import Problem

from .domain import METER_SERIAL_RE, Refusal

DEFAULT_PAGE_SIZE = 20


def bad(field: str, reason: str, status: int = 400) -> Problem:
    return Problem(
        status,
        f"{field}: {reason}",
        code="bad-parameter" if status == 400 else None,
        errors=[{"field": field, "reason": reason}],
    )


def problem(refusal: Refusal) -> Problem:
    errors = [{"field": refusal.field, "reason": refusal.reason}] if refusal.field else None
    return Problem(
        refusal.status, refusal.detail, code=refusal.code, errors=errors, **refusal.extra
    )


def meter_not_found(serial: str) -> Problem:
    return Problem(
        404,
        f"Nie znaleziono wodomierza {serial} wśród Twoich umów.",
        code="meter-not-found",
        errors=[{"field": "serial", "reason": "nie znaleziono wodomierza"}],
    )


def serial(request: web.Request) -> str:
    value = request.match_info["serial"]
    if not METER_SERIAL_RE.match(value):
        raise bad(
            "serial", "nieprawidłowy numer wodomierza (wielkie litery, cyfry i -, 3–30 znaków)"
        )
    return value


def uuid_param(request: web.Request, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise bad(name, "nieprawidłowy identyfikator") from None


def query_choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        raise bad(name, "dozwolone wartości: " + ", ".join(allowed))
    return raw


def query_month(request: web.Request, name: str) -> str | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", raw):
        raise bad(name, "nieprawidłowy miesiąc (oczekiwano RRRR-MM)")
    return raw


@dataclass(frozen=True)
class Page:
    page: int
    size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def envelope(self, items: list[Any], total: int, **extra: Any) -> dict[str, Any]:
        return {
            "items": items,
            "page": self.page,
            "page_size": self.size,
            "total": total,
            "pages": (total + self.size - 1) // self.size,
            **extra,
        }


def page(request: web.Request, max_size: int) -> Page:
    def number(name: str, default: int, low: int, high: int) -> int:
        raw = request.query.get(name)
        if raw is None or raw == "":
            return default
        if not re.fullmatch(r"\d{1,6}", raw) or not low <= int(raw) <= high:
            raise bad(name, f"liczba całkowita od {low} do {high}")
        return int(raw)

    return Page(
        number("page", 1, 1, 100_000),
        number("page_size", min(DEFAULT_PAGE_SIZE, max_size), 1, max_size),
    )
