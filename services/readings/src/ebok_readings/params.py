"""Path and query parameters, paging, and refusals turned into problems (Polish, per field)."""

from __future__ import annotations

import uuid

from aiohttp import web
from ebok_shared.http.params import Page, bad, page, query_choice, query_month
from ebok_shared.http.problems import Problem

from .domain import METER_SERIAL_RE, Refusal

__all__ = ["Page", "bad", "page", "query_choice", "query_month"]


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
