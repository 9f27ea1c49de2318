"""The console's door: sign-in (login, password and a TOTP code, always), the first
password, sign-out, and the home page with the counts of each queue the operator works."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from .access import CONSOLE_SIGN_IN_PAGE, adopt_tokens, api, sign_out
from .console import HOME, PASSWORD_PAGE, console_page, signed_in_operator
from .forms import Form, read_form, require
from .http_public import check_new_password, take_password_problem
from .middleware import end_session, ensure_session, start_session
from .operator_roles import BILLING, CONTENT, CUSTOMER_SERVICE, may
from .rendering import redirect, render, safe_next

routes = web.RouteTableDef()

PASSWORD_FIELDS = ("current_password", "new_password", "new_password_repeat")


def _sign_in_page(request: web.Request, form: Form, status: int = 200) -> web.Response:
    expired = "wygasla" in request.query
    return render(
        request,
        "console/sign_in.html",
        title="Logowanie do konsoli",
        form=form,
        expired=expired,
        status=status,
    )


@routes.get(CONSOLE_SIGN_IN_PAGE)
async def sign_in_page(request: web.Request) -> web.StreamResponse:
    if signed_in_operator(request):
        redirect(safe_next(request.query.get("next"), HOME))
    ensure_session(request)
    return _sign_in_page(request, Form(values={"next": _next(request.query.get("next"))}))


def _next(target: str | None) -> str:
    """Back to a console page only (never to the customers' portal)."""
    found = safe_next(target, HOME)
    return found if found == HOME or found.startswith(HOME + "/") else HOME


@routes.post(CONSOLE_SIGN_IN_PAGE)
async def sign_in(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    require(form, "login", message="Wpisz login.")
    require(form, "password", message="Wpisz hasło.")
    code = form.value("totp_code").replace(" ", "")
    if not code:
        form.error("totp_code", "Wpisz kod z aplikacji uwierzytelniającej.")
    elif not (code.isdigit() and len(code) == 6):
        form.error("totp_code", "Kod z aplikacji to 6 cyfr.")
    if not form.invalid:
        body = {"login": form.value("login"), "password": form.value("password"), "totp_code": code}
        reply = await api(request).post("/operator/sessions", json_body=body)
        if reply.ok:
            ensure_session(request)
            session = await start_session(request)  # a new id for the signed-in operator
            adopt_tokens(session, reply.json(), "operator")
            session.login = form.value("login")
            redirect(PASSWORD_PAGE if session.restrictions else _next(form.value("next")))
        if reply.status == 401 or reply.code == "invalid-credentials":
            form.detail = "Nieprawidłowy login, hasło albo kod. Sprawdź je i spróbuj ponownie."
        else:
            form.take_problem(reply.problem, known=("login", "password", "totp_code"))
    return _sign_in_page(request, form, status=422)


@routes.post("/operator/wyloguj")
async def sign_out_page(request: web.Request) -> web.StreamResponse:
    session = signed_in_operator(request)
    if session is not None:
        await sign_out(request, session)
    end_session(request)
    redirect(f"{CONSOLE_SIGN_IN_PAGE}?wylogowano=1")


# -- the first (and any later) password ---------------------------------------------------------


@routes.get(PASSWORD_PAGE)
@console_page()
async def password_page(request: web.Request) -> web.StreamResponse:
    return render(request, "console/password.html", title="Zmiana hasła", form=Form())


@routes.post(PASSWORD_PAGE)
@console_page()
async def change_password(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    require(form, "current_password", message="Wpisz obecne hasło.")
    check_new_password(form)
    if not form.invalid:
        body = {
            "current_password": form.value("current_password"),
            "new_password": form.value("new_password"),
        }
        reply = await api(request).put("/me/password", json_body=body)
        if reply.ok:
            login = ensure_session(request).login
            session = await start_session(request)  # a new id after a password change
            adopt_tokens(session, reply.json(), "operator")
            session.login = login
            session.flash.append("Hasło zostało zmienione.")
            redirect(HOME)
        take_password_problem(form, reply, PASSWORD_FIELDS)
    return render(request, "console/password.html", title="Zmiana hasła", form=form, status=422)


# -- home: the queues at a glance ---------------------------------------------------------------

# (role, label, the console page, the API listing with its query, how to count it)
QUEUES: tuple[tuple[str, str, str, str, dict[str, str]], ...] = (
    (
        CUSTOMER_SERVICE,
        "Otwarte sprawy",
        "/operator/sprawy",
        "/operator/correspondence/cases",
        {"status": "open", "page_size": "1"},
    ),
    (
        CUSTOMER_SERVICE,
        "Zgłoszenia wodomierzy ogrodowych do rozpatrzenia",
        "/operator/wodomierze-ogrodowe",
        "/operator/readings/garden-meter-requests",
        {"status": "submitted", "page_size": "1"},
    ),
    (
        CUSTOMER_SERVICE,
        "Odczyty do weryfikacji",
        "/operator/odczyty",
        "/operator/readings/readings",
        {"page_size": "1"},
    ),
    (
        CUSTOMER_SERVICE,
        "Nieudane wysyłki e-maili (ostatnie 100)",
        "/operator/wiadomosci",
        "/operator/notifier/deliveries",
        {"status": "failed", "limit": "100"},
    ),
)


async def _count(request: web.Request, path: str, params: dict[str, str]) -> int | None:
    reply = await api(request).get(path, params=params)
    if not reply.ok:
        return None  # refused or unavailable: the tile says so, the page still opens
    body: dict[str, Any] = reply.json()
    return int(body["total"]) if "total" in body else len(body.get("items") or [])


@routes.get(HOME + "/")
async def home_with_slash(request: web.Request) -> web.StreamResponse:
    """``/operator/`` (as the local run prints it) is the console's home too."""
    redirect(HOME)


@routes.get(HOME)
@console_page()
async def home(request: web.Request) -> web.StreamResponse:
    session = signed_in_operator(request)
    mine = [q for q in QUEUES if may(session, q[0])]
    counts = await asyncio.gather(*(_count(request, q[3], q[4]) for q in mine))
    tiles = [
        {"label": q[1], "href": q[2], "count": count} for q, count in zip(mine, counts, strict=True)
    ]
    return render(
        request,
        "console/home.html",
        title="Start",
        tiles=tiles,
        content=may(session, CONTENT),
        billing=may(session, BILLING),
    )
