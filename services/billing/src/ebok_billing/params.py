"""Reading path and query parameters; each refusal is a Polish problem naming the field."""

from __future__ import annotations

import re

from aiohttp import web
from ebok_shared.http.params import Page, bad, page, query_choice, query_date
from ebok_shared.http.problems import Problem

from .domain import CLIENT_NUMBER_RE, CONTRACT_NUMBER_RE, INVOICE_NUMBER_RE, NOTE_NUMBER_RE
from .operations import OperationError

__all__ = ["Page", "bad", "page", "query_choice", "query_date"]


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
