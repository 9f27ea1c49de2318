"""Path and query parameters; each refusal is a Polish problem naming the parameter."""

from __future__ import annotations

import re
import uuid

from aiohttp import web
from ebok_shared.http.problems import Problem

from .domain import Page

DEFAULT_PAGE_SIZE = 20


def bad(name: str, reason: str) -> Problem:
    return Problem(
        400, f"{name}: {reason}", code="bad-parameter", errors=[{"field": name, "reason": reason}]
    )


def path_id(request: web.Request, name: str) -> uuid.UUID:
    """A case or attachment id from the path. Anything that is not one is simply not found
    (404), the same answer as an id of someone else's case."""
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise Problem(404, "Nie znaleziono takiej sprawy lub załącznika.") from None


def choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        raise bad(name, "dozwolone wartości: " + ", ".join(allowed))
    return raw


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
