"""Public pages: home with sign-in (and its TOTP step), sign-out, contact, accessibility."""

from __future__ import annotations

import time

from aiohttp import web

from .access import SIGN_IN_PAGE, adopt_tokens, api, session_of, sign_out
from .forms import Form, read_form, require
from .middleware import end_session, ensure_session, start_session
from .rendering import redirect, render, safe_next

routes = web.RouteTableDef()

TOTP_PAGE = "/logowanie/kod"
PENDING_SECONDS = 300  # how long a sign-in waits for its TOTP code
HOME_AFTER_SIGN_IN = "/pulpit"


def _signed_in_customer(request: web.Request) -> bool:
    session = session_of(request)
    return session is not None and session.kind == "customer" and session.signed_in


@routes.get("/")
async def home(request: web.Request) -> web.StreamResponse:
    if _signed_in_customer(request):
        redirect(HOME_AFTER_SIGN_IN)
    ensure_session(request)
    return render(request, "public/home.html", title="Logowanie", form=Form(), expired=False)


@routes.get(SIGN_IN_PAGE)
async def sign_in_page(request: web.Request) -> web.StreamResponse:
    if _signed_in_customer(request):
        redirect(safe_next(request.query.get("next"), HOME_AFTER_SIGN_IN))
    ensure_session(request)
    form = Form(values={"next": safe_next(request.query.get("next"), "")})
    expired = "wygasla" in request.query
    return render(request, "public/home.html", title="Logowanie", form=form, expired=expired)


async def _signed_in(request: web.Request, answer: dict[str, object], next_page: str) -> None:
    session = await start_session(request)  # a new id: the anonymous one is worth nothing now
    session.pending = {}
    adopt_tokens(session, answer, "customer")
    session.login = str(answer.get("login") or session.login or "")
    redirect(safe_next(next_page, HOME_AFTER_SIGN_IN))


@routes.post(SIGN_IN_PAGE)
async def sign_in(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    require(form, "login", message="Wpisz numer klienta.")
    require(form, "password", message="Wpisz hasło.")
    if not form.invalid:
        credentials = {"login": form.value("login"), "password": form.value("password")}
        reply = await api(request).post("/sessions", json_body=credentials)
        if reply.ok:
            session = ensure_session(request)
            session.login = form.value("login")
            await _signed_in(
                request, {**reply.json(), "login": form.value("login")}, form.value("next")
            )
        if reply.code == "totp-required":
            session = ensure_session(request)
            # Kept on the server only (never in the page), for five minutes, for one step.
            session.pending = {
                **credentials,
                "until": time.time() + PENDING_SECONDS,
                "next": form.value("next"),
            }
            redirect(TOTP_PAGE)
        form.take_problem(reply.problem, known=("login", "password"))
    return render(
        request, "public/home.html", title="Logowanie", form=form, expired=False, status=422
    )


@routes.get(TOTP_PAGE)
async def totp_page(request: web.Request) -> web.StreamResponse:
    session = ensure_session(request)
    if not session.pending or session.pending.get("until", 0) < time.time():
        session.pending = {}
        redirect(SIGN_IN_PAGE)
    return render(request, "public/totp.html", title="Kod z aplikacji", form=Form())


@routes.post(TOTP_PAGE)
async def totp_submit(request: web.Request) -> web.StreamResponse:
    session = ensure_session(request)
    pending = session.pending
    if not pending or pending.get("until", 0) < time.time():
        session.pending = {}
        session.flash.append("Logowanie trwało zbyt długo. Zaloguj się ponownie.")
        redirect(SIGN_IN_PAGE)
    form = await read_form(request)
    code = form.value("totp_code").replace(" ", "")
    if not code:
        form.error("totp_code", "Wpisz kod z aplikacji uwierzytelniającej.")
    else:
        body = {"login": pending["login"], "password": pending["password"], "totp_code": code}
        reply = await api(request).post("/sessions", json_body=body)
        if reply.ok:
            await _signed_in(
                request, {**reply.json(), "login": pending["login"]}, pending.get("next", "")
            )
        if reply.code == "invalid-credentials":
            session.pending = {}
            session.flash.append("Nie udało się zalogować. Zaloguj się ponownie.")
            redirect(SIGN_IN_PAGE)
        form.take_problem(reply.problem, {"totp_code": "totp_code"}, known=("totp_code",))
        if "totp_code" not in form.errors and form.detail:
            form.errors["totp_code"], form.detail = form.detail, None
    return render(request, "public/totp.html", title="Kod z aplikacji", form=form, status=422)


@routes.post("/wyloguj")
async def sign_out_page(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    if session is not None:
        await sign_out(request, session)
    end_session(request)
    redirect("/?wylogowano=1")


@routes.get("/kontakt")
async def contact(request: web.Request) -> web.StreamResponse:
    return render(request, "public/contact.html", title="Kontakt")


@routes.get("/deklaracja-dostepnosci")
async def accessibility(request: web.Request) -> web.StreamResponse:
    return render(request, "public/accessibility.html", title="Deklaracja dostępności")
