"""The console's operators (role ``admin``): who can work in the console, with which roles,
and a new operator made with a first password and a TOTP key, shown once (with the QR code
for the authenticator app) to be handed over in person. One operator's page: their roles
changed, the account deactivated, or a new TOTP key (shown once), each with a reason the
audit log keeps; any of them ends that operator's sessions."""

from __future__ import annotations

import re

from aiohttp import web

from .access import api
from .console import checked, console_page, done
from .forms import Form, read_form, require
from .http_account import _grouped, qr_code
from .http_public import check_email
from .operator_roles import ADMIN, ROLE_NAMES
from .rendering import render

routes = web.RouteTableDef()

OPERATORS = "/operator/pracownicy"
LOGIN = re.compile(r"^[a-z0-9._-]{3,64}$")
ONE = OPERATORS + "/{login:[a-z0-9._-]{3,64}}"
REASON_MISSING = "Podaj powód – zostanie zapisany w dzienniku zdarzeń."


async def _operators_page(
    request: web.Request, form: Form | None = None, status: int = 200
) -> web.Response:
    reply = checked(await api(request).get("/operator/auth/operators"))
    return render(
        request,
        "console/operators.html",
        title="Pracownicy",
        operators=reply.json()["items"] if reply.ok else None,
        form=form or Form(),
        roles=list(ROLE_NAMES.items()),
        status=status,
    )


@routes.get(OPERATORS)
@console_page(ADMIN)
async def operators(request: web.Request) -> web.StreamResponse:
    return await _operators_page(request)


@routes.post(OPERATORS)
@console_page(ADMIN)
async def create(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    chosen = [role for role in ROLE_NAMES if form.value(f"role_{role}")]
    if not LOGIN.match(form.value("login")):
        form.error(
            "login", "Login: 3–64 znaki, małe litery, cyfry, kropka, podkreślenie lub myślnik."
        )
    check_email(form)
    if not chosen:
        form.error(f"role_{next(iter(ROLE_NAMES))}", "Wybierz co najmniej jedną rolę.")
    if not form.invalid:
        body = {"login": form.value("login"), "email": form.value("email"), "roles": chosen}
        reply = checked(await api(request).post("/operator/auth/operators", json_body=body))
        if reply.ok:
            made = reply.json()
            # Shown once, on this answer only (never kept by web): handed over in person.
            return render(
                request,
                "console/operator_created.html",
                title="Nowy pracownik",
                made=made,
                qr=qr_code(made["otpauth_uri"]),
                secret=_grouped(made["totp_secret"]),
                role_names=ROLE_NAMES,
                headers={"Referrer-Policy": "no-referrer"},
            )
        form.take_problem(reply.problem, known=("login", "email"))
    return await _operators_page(request, form, status=422)


def _operator_path(login: str) -> str:
    return f"/operator/auth/operators/{login}"


async def _operator_page(
    request: web.Request, form: Form | None = None, status: int = 200
) -> web.Response:
    login = request.match_info["login"]
    reply = checked(await api(request).get(_operator_path(login)))
    if reply.status == 404:
        raise web.HTTPNotFound()
    operator = reply.json() if reply.ok else None
    if form is None:
        held = operator["roles"] if operator else []
        form = Form(values={f"role_{r}": "1" for r in held})
    return render(
        request,
        "console/operator.html",
        title=f"Pracownik {login}",
        login=login,
        operator=operator,
        form=form,
        roles=list(ROLE_NAMES.items()),
        status=status,
    )


@routes.get(ONE)
@console_page(ADMIN)
async def operator(request: web.Request) -> web.StreamResponse:
    return await _operator_page(request)


def _refusal_status(problem: dict[str, object]) -> int:
    """The page's status: auth's 409 (the state forbids it, e.g. the last admin) stays a
    409; anything else about the form is a 422."""
    return 409 if problem.get("status") == 409 else 422


async def _refused(
    request: web.Request, form: Form, reply_problem: dict[str, object]
) -> web.Response:
    form.take_problem(reply_problem, fields={"reason": "reason", "roles": "role_customer_service"})
    return await _operator_page(request, form, status=_refusal_status(reply_problem))


@routes.post(ONE + "/role")
@console_page(ADMIN)
async def change_roles(request: web.Request) -> web.StreamResponse:
    login = request.match_info["login"]
    form = await read_form(request)
    chosen = [role for role in ROLE_NAMES if form.value(f"role_{role}")]
    if not chosen:
        form.error(f"role_{next(iter(ROLE_NAMES))}", "Wybierz co najmniej jedną rolę.")
    require(form, "reason", message=REASON_MISSING)
    if not form.invalid:
        body = {"roles": chosen, "reason": form.value("reason")}
        reply = checked(await api(request).put(_operator_path(login) + "/roles", json_body=body))
        if reply.ok:
            done(request, f"Zmieniono role pracownika {login}.", f"{OPERATORS}/{login}")
        return await _refused(request, form, reply.problem)
    return await _operator_page(request, form, status=422)


async def _reason_form(request: web.Request, field: str) -> Form:
    """The one field an action on an operator takes (its reason), checked as given."""
    form = await read_form(request)
    reasons = Form(values={field: form.value(field)})
    require(reasons, field, message=REASON_MISSING)
    return reasons


@routes.post(ONE + "/dezaktywacja")
@console_page(ADMIN)
async def deactivate(request: web.Request) -> web.StreamResponse:
    login = request.match_info["login"]
    reasons = await _reason_form(request, "deactivation_reason")
    if not reasons.invalid:
        body = {"reason": reasons.value("deactivation_reason")}
        reply = checked(
            await api(request).post(_operator_path(login) + "/deactivation", json_body=body)
        )
        if reply.ok:
            done(
                request, f"Konto pracownika {login} zostało dezaktywowane.", f"{OPERATORS}/{login}"
            )
        reasons.take_problem(reply.problem, fields={"reason": "deactivation_reason"})
        return await _operator_page(request, reasons, status=_refusal_status(reply.problem))
    return await _operator_page(request, reasons, status=422)


@routes.post(ONE + "/totp")
@console_page(ADMIN)
async def reset_totp(request: web.Request) -> web.StreamResponse:
    login = request.match_info["login"]
    reasons = await _reason_form(request, "totp_reason")
    if not reasons.invalid:
        body = {"reason": reasons.value("totp_reason")}
        reply = checked(
            await api(request).post(_operator_path(login) + "/totp-reset", json_body=body)
        )
        if reply.ok:
            made = reply.json()
            # Shown once, on this answer only (never kept by web): handed over in person.
            return render(
                request,
                "console/operator_totp.html",
                title="Nowy klucz TOTP",
                made=made,
                qr=qr_code(made["otpauth_uri"]),
                secret=_grouped(made["totp_secret"]),
                headers={"Referrer-Policy": "no-referrer"},
            )
        reasons.take_problem(reply.problem, fields={"reason": "totp_reason"})
    return await _operator_page(request, reasons, status=422)
