"""Query and path parameters every service reads the same way: paging, dates, choices.
Each refusal is a 400 problem naming the parameter, in Polish."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, overload

from aiohttp import web

from .problems import Problem

DEFAULT_PAGE_SIZE = 20
MAX_PAGE = 100_000

# The items of a list operators hid from customers (portal settings are the gateway's data):
# the gateway names them on every list call so that the owning service leaves them out in its
# SQL, and ``total``, ``pages`` and every page count only what customers see. Whoever calls a
# service directly can only hide rows of their own list from themselves.
HIDDEN_ITEMS_HEADER = "X-Ebok-Hidden-Items"
MAX_HIDDEN_ITEMS = 1000


def bad(field: str, reason: str, status: int = 400) -> Problem:
    return Problem(
        status,
        f"{field}: {reason}",
        code="bad-parameter" if status == 400 else None,
        errors=[{"field": field, "reason": reason}],
    )


def _raw(request: web.Request, name: str) -> str | None:
    raw = request.query.get(name)
    return None if raw is None or raw == "" else raw


def query_choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    raw = _raw(request, name)
    if raw is not None and raw not in allowed:
        raise bad(name, "dozwolone wartości: " + ", ".join(allowed))
    return raw


def query_date(request: web.Request, name: str) -> date | None:
    raw = _raw(request, name)
    if raw is None:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise bad(name, "nieprawidłowa data (oczekiwano RRRR-MM-DD)") from None


def query_month(request: web.Request, name: str) -> str | None:
    raw = _raw(request, name)
    if raw is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", raw):
        raise bad(name, "nieprawidłowy miesiąc (oczekiwano RRRR-MM)")
    return raw


@overload
def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int: ...
@overload
def query_int(
    request: web.Request, name: str, default: None, low: int, high: int
) -> int | None: ...
def query_int(
    request: web.Request, name: str, default: int | None, low: int, high: int
) -> int | None:
    """A whole number from ``low`` to ``high`` (``default`` when absent): limits, offsets and
    keyset cursors of the lists that are not paged by ``page``."""
    raw = _raw(request, name)
    if raw is None:
        return default
    if not re.fullmatch(r"\d{1,19}", raw) or not low <= int(raw) <= high:
        raise bad(name, f"liczba całkowita od {low} do {high}")
    return int(raw)


def hidden_items(request: web.Request) -> list[str]:
    """The item ids the gateway said are hidden (``HIDDEN_ITEMS_HEADER``, comma-separated);
    more than ``MAX_HIDDEN_ITEMS`` is refused rather than half applied."""
    raw = request.headers.get(HIDDEN_ITEMS_HEADER, "")
    items = sorted({item.strip() for item in raw.split(",") if item.strip()})
    if len(items) > MAX_HIDDEN_ITEMS:
        raise bad(HIDDEN_ITEMS_HEADER, f"najwyżej {MAX_HIDDEN_ITEMS} pozycji")
    return items


@dataclass(frozen=True)
class Page:
    page: int
    size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def envelope(self, items: list[Any], total: int, **extra: Any) -> dict[str, Any]:
        """The one shape of every paged list e-BOK answers."""
        return {
            "items": items,
            "page": self.page,
            "page_size": self.size,
            "total": total,
            "pages": (total + self.size - 1) // self.size,
            **extra,
        }


def page(request: web.Request, max_size: int) -> Page:
    """``page`` and ``page_size`` from the query (page size capped at ``max_size``)."""

    def number(name: str, default: int, low: int, high: int) -> int:
        raw = _raw(request, name)
        if raw is None:
            return default
        if not re.fullmatch(r"\d{1,6}", raw) or not low <= int(raw) <= high:
            raise bad(name, f"liczba całkowita od {low} do {high}")
        return int(raw)

    return Page(
        number("page", 1, 1, MAX_PAGE),
        number("page_size", min(DEFAULT_PAGE_SIZE, max_size), 1, max_size),
    )
