"""RFC 9457 problem details: every 4xx/5xx any e-BOK component answers.

Titles and details are Polish (customers and operators read them); ``errors`` names each
field and the reason. Internals (stack traces, upstream bodies) never leave the process.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from ..logs import correlation_id_var, get_logger
from ..refusals import Refusal
from .refusal_audit import audit_refusal
from .tokens import PRINCIPAL

log = get_logger(__name__)

CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://ebok.mpwik.com.pl/problemy/"

TITLES = {
    400: "Nieprawidłowe żądanie",
    401: "Wymagane uwierzytelnienie",
    403: "Brak dostępu",
    404: "Nie znaleziono",
    405: "Niedozwolona metoda",
    406: "Nieakceptowalny format odpowiedzi",
    409: "Konflikt",
    410: "Zasób usunięty",
    413: "Zbyt duże żądanie",
    415: "Nieobsługiwany typ treści",
    422: "Nieprawidłowe dane",
    423: "Zablokowane",
    428: "Wymagany warunek wstępny",
    429: "Zbyt wiele żądań",
    500: "Błąd wewnętrzny",
    502: "Błąd usługi pośredniczącej",
    503: "Usługa chwilowo niedostępna",
    504: "Przekroczono czas oczekiwania",
}
DETAILS = {
    401: "Zaloguj się, aby kontynuować.",
    404: "Nie znaleziono żądanego zasobu.",
    405: "Ta metoda nie jest obsługiwana dla tego adresu.",
    413: "Treść żądania przekracza dopuszczalny rozmiar.",
    500: "Wystąpił nieoczekiwany błąd. Spróbuj ponownie później.",
    503: "Usługa jest chwilowo niedostępna. Spróbuj ponownie za chwilę.",
}


class Problem(Exception):
    """Raise anywhere in a handler; the error middleware renders it."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        code: str | None = None,
        title: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or code or str(status))
        self.status = status
        self.detail = detail or DETAILS.get(status, TITLES.get(status, "Błąd"))
        self.code = code or {
            400: "bad-request",
            401: "unauthorized",
            403: "forbidden",
            404: "not-found",
            409: "conflict",
            422: "validation",
            429: "rate-limited",
        }.get(status, f"http-{status}")
        self.title = title or TITLES.get(status, "Błąd")
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        cid = correlation_id_var.get()
        if cid:
            body["correlation_id"] = cid
        return body


def field_problem(
    field: str, reason: str, *, status: int = 422, code: str = "validation"
) -> Problem:
    """One field's value is wrong (``validation_problem`` for one field, with its own code)."""
    return Problem(
        status, f"{field}: {reason}", code=code, errors=[{"field": field, "reason": reason}]
    )


def validation_problem(
    errors: list[dict[str, str]], *, status: int = 422, detail: str | None = None
) -> Problem:
    """The one shape of "these fields are wrong": every field with its reason (``detail``, a
    sentence for people, defaults to the fields and reasons joined)."""
    detail = detail or "; ".join(f"{e['field']}: {e['reason']}" for e in errors) or None
    return Problem(status, detail, code="validation", errors=errors)


def from_refusal(refusal: Refusal) -> Problem:
    """A rule's refusal as the problem the client reads (the one place this happens)."""
    headers = {} if refusal.retry_after is None else {"Retry-After": str(refusal.retry_after)}
    return Problem(
        refusal.status,
        refusal.detail,
        code=refusal.code,
        errors=refusal.errors,
        headers=headers,
        **refusal.extra,
    )


def problem_response(problem: Problem, instance: str | None = None) -> web.Response:
    return web.Response(
        status=problem.status,
        body=json.dumps(problem.to_dict(instance), ensure_ascii=False).encode(),
        content_type=CONTENT_TYPE,
        charset="utf-8",
        headers=problem.headers,
    )


# aiohttp's own 4xx that concern one part of the request: that part, and why (in Polish).
_FIELDS = {
    413: ("(body)", "treść przekracza dopuszczalny rozmiar"),
    415: ("Content-Type", "nieobsługiwany typ treści"),
}


def from_http_exception(exc: web.HTTPException) -> Problem:
    kept = ("Allow", "Retry-After", "WWW-Authenticate")
    headers = {k: v for k, v in exc.headers.items() if k in kept}
    field = _FIELDS.get(exc.status)
    errors = [{"field": field[0], "reason": field[1]}] if field else None
    return Problem(exc.status, headers=headers, errors=errors)


async def render(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Run ``handler``; any error becomes a problem response (refusals of access logged)."""
    try:
        return await handler(request)
    except Problem as problem:
        return await _refused(request, problem)
    except Refusal as refusal:
        return await _refused(request, from_refusal(refusal))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return await _refused(request, from_http_exception(exc))
    except Exception:
        log.exception("unhandled error", path=request.path, method=request.method)
        return problem_response(Problem(500), request.path)


async def _refused(request: web.Request, problem: Problem) -> web.Response:
    logged = log_refusal(request, problem.status, problem.code)
    if logged is not None:  # and audited (ebok_shared.http.refusal_audit)
        actor, route = logged
        await audit_refusal(
            request, actor=actor, route=route, status=problem.status, problem=problem.code
        )
    return problem_response(problem, request.path)


# Access decisions (ASVS 7.2.2): no or a bad token, a forbidden route, an item that is not the
# caller's own (a service answers 404 for another customer's invoice or case), throttling.
_ACCESS_REFUSALS = {
    401: "authentication",
    403: "authorisation",
    404: "authorisation",
    429: "throttling",
}


def log_refusal(request: web.Request, status: int, code: str) -> tuple[str, str] | None:
    """One warning per refused access: who (never their token), which route, the status and
    the problem's code; the correlation id comes from the request's context. A 404 counts
    only when a signed-in caller asked a route that exists (an item not theirs or gone).
    The actor and route logged (None: not an access refusal)."""
    kind = _ACCESS_REFUSALS.get(status)
    principal = request.get(PRINCIPAL)
    resource = request.match_info.route.resource
    if kind is None or (status == 404 and (principal is None or resource is None)):
        return None
    actor = f"{principal.kind}:{principal.subject}" if principal else "anonymous"
    log.warning(
        f"{kind} refused",
        status=status,
        problem=code,  # not "code": log keys named so are masked as secrets (TOTP codes)
        actor=actor,
        method=request.method,
        route=resource.canonical if resource is not None else None,
        path=request.path,
    )
    # No route: the path is the caller's to choose, so it is no key to count by.
    return actor, resource.canonical if resource is not None else "(no route)"


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    return await render(request, handler)
