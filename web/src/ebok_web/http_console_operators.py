"""The console's operators (role ``admin``): who can work in the console, with which roles,
and a new operator made with a first password and a TOTP key, shown once (with the QR code
for the authenticator app) to be handed over in person."""

from __future__ import annotations

import re

from aiohttp import web

from .access import api
from .console import checked, console_page
from .forms import Form, read_form
from .http_account import _grouped, qr_code
from .http_public import check_email
from .operator_roles import ADMIN, ROLE_NAMES
from .rendering import render

routes = web.RouteTableDef()

OPERATORS = "/operator/pracownicy"
LOGIN = re.compile(r"^[a-z0-9._-]{3,64}$")


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
