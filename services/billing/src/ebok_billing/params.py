"""Reading path and query parameters; each refusal is a Polish problem naming the field."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from aiohttp import web
from ebok_shared.http.problems import Problem

from .domain import CLIENT_NUMBER_RE, CONTRACT_NUMBER_RE, INVOICE_NUMBER_RE, NOTE_NUMBER_RE
from .operations import OperationError

DEFAULT_PAGE_SIZE = 20


def bad(field: str, reason: str, status: int = 400) -> Problem:
    return Problem(
        status,
        f"{field}: {reason}",
        code="bad-parameter" if status == 400 else None,
        errors=[{"field": field, "reason": reason}],
    )


def from_operation(exc: OperationError) -> Problem:
    errors = [{"field": exc.field, "reason": exc.detail}] if exc.field else None
    return Problem(exc.status, exc.detail, code=exc.code, errors=errors)


def _matched(request: web.Request, name: str, pattern: re.Pattern[str], reason: str) -> str:
    value = request.match_info[name]
    if not pattern.match(value):
        raise bad(name, reason)
    return value


def invoice_number(request: web.Request) -> str:
    return _matched(
        request,
        "number",
        INVOICE_NUMBER_RE,
        "nieprawidłowy numer faktury (10–20 cyfr, na początku numer klienta)",
    )


def contract_number(request: web.Request) -> str:
    return _matched(
        request,
        "number",
        CONTRACT_NUMBER_RE,
        "nieprawidłowy numer umowy (wielkie litery, cyfry, / i -)",
    )


def client_number(request: web.Request) -> str:
    return _matched(request, "number", CLIENT_NUMBER_RE, "numer klienta to 6 cyfr")


def note_number(value: str) -> str:
    if not NOTE_NUMBER_RE.match(value):
        raise bad("number", "nieprawidłowy numer noty odsetkowej")
    return value


def query_date(request: web.Request, name: str) -> date | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise bad(name, "nieprawidłowa data (oczekiwano RRRR-MM-DD)") from None


def query_choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        raise bad(name, "dozwolone wartości: " + ", ".join(allowed))
    return raw


@dataclass(frozen=True)
class Page:
    page: int
    size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def envelope(self, items: list[Any], total: int) -> dict[str, Any]:
        return {
            "items": items,
            "page": self.page,
            "page_size": self.size,
            "total": total,
            "pages": (total + self.size - 1) // self.size,
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
