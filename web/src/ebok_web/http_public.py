"""Public pages: home with sign-in (and its TOTP step), sign-out, contact, accessibility;
registration; the pages e-mail links open (activation, new password, e-mail and e-invoice
address confirmation); the forgotten-password request; the regulations."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from ebok_shared.addresses import valid_email

from . import terms
from .access import SIGN_IN_PAGE, adopt_tokens, api, session_of, sign_out
from .forms import Form, read_form, require
from .gateway import GatewayUnavailable, Reply
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
            # auth does not say which was wrong (the code or the password given a step ago):
            # another code may be tried while the step lasts, or the sign-in started again.
            form.error(
                "totp_code",
                "Nie udało się zalogować: kod albo hasło jest nieprawidłowe. Wpisz aktualny kod "
                "z aplikacji albo zaloguj się ponownie.",
            )
        else:
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


# -- registration (terms II) -------------------------------------------------------------------

REGISTRATION_PAGE = "/rejestracja"
RESET_PAGE = "/haslo/reset"
REGISTRATION_FIELDS = ("client_number", "email", "invoice_number", "invoice_gross", "accept")
CLIENT_NUMBER = re.compile(r"^\d{6}$")
INVOICE_NUMBER = re.compile(r"^\d{10,20}$")
AMOUNT = re.compile(r"^\d{1,12}(?:[.,]\d{1,2})?$")


def amount(text: str) -> str | None:
    """An amount as people type it ("140,63", "140.63", "1 140,63 zł") in the API's form
    ("1140.63"); None if it is not one."""
    compact = re.sub(r"\s", "", text).removesuffix("zł").removesuffix("PLN")
    return compact.replace(",", ".") if AMOUNT.match(compact) else None


def check_email(form: Form, name: str = "email") -> None:
    value = form.value(name)
    if not value:
        form.error(name, "Wpisz adres e-mail.")
    elif not valid_email(value):
        form.error(name, "Wpisz adres e-mail w poprawnej postaci, np. jan.kowalski@example.pl.")


def _check_registration(form: Form) -> None:
    client = form.value("client_number")
    if not client:
        form.error("client_number", "Wpisz numer klienta.")
    elif not CLIENT_NUMBER.match(client):
        form.error("client_number", "Numer klienta to 6 cyfr, np. 100001.")
    invoice = re.sub(r"\s", "", form.value("invoice_number"))
    if not invoice:
        form.error("invoice_number", "Wpisz numer faktury.")
    elif not INVOICE_NUMBER.match(invoice):
        form.error("invoice_number", "Numer faktury to od 10 do 20 cyfr.")
    elif CLIENT_NUMBER.match(client) and not invoice.startswith(client):
        form.error(
            "invoice_number", "Numer faktury zaczyna się od numeru klienta. Sprawdź oba numery."
        )
    if not form.value("invoice_gross"):
        form.error("invoice_gross", "Wpisz kwotę brutto z faktury.")
    elif amount(form.value("invoice_gross")) is None:
        form.error("invoice_gross", "Wpisz kwotę w złotych, np. 140,63.")
    check_email(form)  # in the order the page shows the fields (the summary follows it)
    if not form.value("accept"):
        form.error(
            "accept", "Zaznacz, że akceptujesz Regulamin e-BOK. Bez tego nie założysz konta."
        )


async def _regulations(request: web.Request, path: str) -> tuple[int, Any]:
    """The gateway's answer about the regulations: (status, data); (503, None) when it
    cannot tell now."""
    try:
        reply = await api(request).get(path)
    except GatewayUnavailable:
        return 503, None
    if reply.ok:
        return 200, reply.json()
    return (404 if reply.status == 404 else 503), None


async def _registration(request: web.Request, form: Form, status: int = 200) -> web.Response:
    _, current = await _regulations(request, "/regulations/current")
    return render(
        request,
        "public/registration.html",
        title="Rejestracja",
        form=form,
        terms=current,
        sections=terms.sections(current["body"]) if current else [],
        status=status,
    )


@routes.get(REGISTRATION_PAGE)
async def registration_page(request: web.Request) -> web.StreamResponse:
    if _signed_in_customer(request):
        redirect(HOME_AFTER_SIGN_IN)
    ensure_session(request)
    return await _registration(request, Form())


@routes.post(REGISTRATION_PAGE)
async def register(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    _check_registration(form)
    version = form.value("regulations_version")
    if not form.invalid and not version.isdigit():
        form.detail = "Nie udało się odczytać wersji Regulaminu. Odśwież stronę i spróbuj ponownie."
    if not form.invalid:
        body = {
            "client_number": form.value("client_number"),
            "email": form.value("email"),
            "invoice_number": re.sub(r"\s", "", form.value("invoice_number")),
            "invoice_gross": amount(form.value("invoice_gross")),
            "accepted_regulations_version": int(version),
        }
        reply = await api(request).post("/registrations", json_body=body)
        if reply.ok:
            redirect(REGISTRATION_PAGE + "/wyslano")
        form.take_problem(
            reply.problem,
            {"accepted_regulations_version": "accept"},
            known=REGISTRATION_FIELDS,
        )
        if "accept" in form.errors:  # the terms changed meanwhile: the new ones, unticked
            form.values.pop("accept", None)
    return await _registration(request, form, status=422)


@routes.get(REGISTRATION_PAGE + "/wyslano")
async def registration_sent(request: web.Request) -> web.StreamResponse:
    return render(request, "public/registration_sent.html", title="Sprawdź pocztę")


# -- pages that e-mail links open --------------------------------------------------------------

NO_REFERRER = "no-referrer"


@dataclass(frozen=True)
class LinkPage:
    """A page an e-mail's link opens with a one-time token. The token goes into the
    visitor's server-side session and the browser on to the page's bare address (the token
    is in no page, no history, no referrer); only the page's POST spends it: mail scanners
    and link previews open links, they do not press buttons."""

    path: str
    title: str
    lead: str
    button: str
    again: tuple[str, str]  # where to ask for a new link: (address, link text)


ACTIVATION = LinkPage(
    "/aktywacja",
    "Aktywacja konta",
    "Naciśnij przycisk, aby aktywować konto e-BOK. Zobaczysz wtedy hasło do pierwszego logowania.",
    "Aktywuj konto",
    (REGISTRATION_PAGE, "Zarejestruj się ponownie"),
)
NEW_PASSWORD = LinkPage(
    "/haslo/nowe",
    "Ustaw nowe hasło",
    "Wpisz nowe hasło dwa razy. Po zmianie zalogujesz się nim na wszystkich urządzeniach.",
    "Ustaw nowe hasło",
    (RESET_PAGE, "Poproś o nowy link"),
)
EMAIL_CONFIRMATION = LinkPage(
    "/konto/email/potwierdz",
    "Potwierdzenie adresu e-mail",
    "Naciśnij przycisk, aby potwierdzić nowy adres e-mail konta e-BOK. Od tej chwili na ten "
    "adres będziemy wysyłać wiadomości z e-BOK.",
    "Potwierdź adres e-mail",
    ("/konto/email", "Podaj nowy adres ponownie"),
)
E_INVOICE_CONFIRMATION = LinkPage(
    "/faktury/e-faktura/potwierdz",
    "Potwierdzenie adresu do e-faktur",
    "Naciśnij przycisk, aby potwierdzić adres, na który będziemy wysyłać e-faktury.",
    "Potwierdź adres do e-faktur",
    ("/faktury/e-faktura", "Podaj adres do e-faktur ponownie"),
)


_SIGN_IN_LINK = (SIGN_IN_PAGE, "Zaloguj się do e-BOK")


class LinkGone(Exception):
    """The link's token is missing, wrong, expired or already used."""


def _token_key(page: LinkPage) -> str:
    return "token:" + page.path


def _keep_token(request: web.Request, page: LinkPage) -> None:
    session = ensure_session(request)
    token = request.query.get("token", "").strip()
    if token:  # kept here, and out of the address bar and the history at once
        session.pending[_token_key(page)] = token[:300]
        redirect(page.path)
    if not session.pending.get(_token_key(page)):
        raise LinkGone


def _refused_link(reply: Reply) -> bool:
    if reply.status in (404, 410):
        return True
    errors = reply.problem.get("errors") or []
    return reply.status == 422 and any(e.get("field") == "token" for e in errors)


async def _spend_token(request: web.Request, page: LinkPage, api_path: str, **body: Any) -> Reply:
    """The API's answer to the link's token (with ``body``); forgotten once it worked."""
    session = ensure_session(request)
    token = session.pending.get(_token_key(page))
    if not token:
        raise LinkGone
    reply = await api(request).post(api_path, json_body={"token": token, **body})
    if _refused_link(reply):
        raise LinkGone
    if reply.ok:
        session.pending.pop(_token_key(page), None)
    return reply


def link_page(page: LinkPage) -> Callable[[Handler], Handler]:
    """A handler of a token page: never a referrer (the address holds the token); a token
    that no longer works gives the page that says so and where to get a new one."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def run(request: web.Request) -> web.StreamResponse:
            try:
                response = await handler(request)
            except web.HTTPException as moved:
                if moved.status < 400:
                    moved.headers["Referrer-Policy"] = NO_REFERRER
                raise
            except LinkGone:
                ensure_session(request).pending.pop(_token_key(page), None)
                response = render(
                    request,
                    "public/link_gone.html",
                    title="Link nieaktualny",
                    page=page,
                    status=410,
                )
            response.headers["Referrer-Policy"] = NO_REFERRER
            return response

        return run

    return wrap


def _button_page(
    request: web.Request, page: LinkPage, form: Form | None = None, status: int = 200
) -> web.Response:
    return render(
        request,
        "public/link_button.html",
        title=page.title,
        page=page,
        form=form or Form(),
        status=status,
    )


def take_refusal(form: Form, reply: Reply) -> int:
    """A refusal about no field of the form (a limit, a service down), said at the top;
    the status to answer with."""
    form.take_problem(reply.problem)
    return reply.status if 400 <= reply.status < 500 else 503


def _done_page(
    request: web.Request, title: str, message: str, next_page: tuple[str, str]
) -> web.Response:
    return render(request, "public/link_done.html", title=title, message=message, next=next_page)


@routes.get(ACTIVATION.path)
@link_page(ACTIVATION)
async def activation_page(request: web.Request) -> web.StreamResponse:
    _keep_token(request, ACTIVATION)
    return _button_page(request, ACTIVATION)


@routes.post(ACTIVATION.path)
@link_page(ACTIVATION)
async def activate(request: web.Request) -> web.StreamResponse:
    reply = await _spend_token(request, ACTIVATION, "/activations")
    if not reply.ok:
        form = Form()
        return _button_page(request, ACTIVATION, form, status=take_refusal(form, reply))
    answer = reply.json()
    # Shown in this answer only: never stored, never e-mailed, gone with a reload.
    return render(
        request,
        "public/activated.html",
        title="Konto aktywne",
        login=answer.get("login", ""),
        password=answer["initial_password"],
        expires=answer.get("initial_password_expires_at"),
    )


@routes.get(NEW_PASSWORD.path)
@link_page(NEW_PASSWORD)
async def new_password_page(request: web.Request) -> web.StreamResponse:
    if "token" not in request.query and not ensure_session(request).pending.get(
        _token_key(NEW_PASSWORD)
    ):
        redirect(RESET_PAGE)  # "set a new password" links of the lockout e-mails: ask for one
    _keep_token(request, NEW_PASSWORD)
    return render(request, "public/new_password.html", title=NEW_PASSWORD.title, form=Form())


def check_new_password(form: Form) -> None:
    """The new password typed twice, the same both times (its rules the API checks)."""
    require(form, "new_password", message="Wpisz nowe hasło.")
    require(form, "new_password_repeat", message="Wpisz nowe hasło jeszcze raz.")
    if form.value("new_password") and form.value("new_password_repeat"):
        if form.value("new_password") != form.value("new_password_repeat"):
            form.error("new_password_repeat", "Hasła nie są takie same. Wpisz je ponownie.")


def take_password_problem(form: Form, reply: Reply, known: tuple[str, ...]) -> None:
    """A refused password change: every rule the new password breaks said at its field."""
    form.take_problem(reply.problem, known=known)
    if reply.code == "password-policy" and reply.problem.get("detail"):
        form.errors["new_password"] = str(reply.problem["detail"])


@routes.post(NEW_PASSWORD.path)
@link_page(NEW_PASSWORD)
async def new_password(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    check_new_password(form)
    if not form.invalid:
        reply = await _spend_token(
            request,
            NEW_PASSWORD,
            "/password-resets/confirm",
            new_password=form.value("new_password"),
        )
        if reply.ok:
            ensure_session(request).flash.append(
                "Hasło zostało zmienione. Zaloguj się nowym hasłem."
            )
            redirect(SIGN_IN_PAGE)
        take_password_problem(form, reply, ("new_password", "new_password_repeat"))
    return render(
        request, "public/new_password.html", title=NEW_PASSWORD.title, form=form, status=422
    )


def _confirmation_link(
    page: LinkPage, api_path: str, done: str, said: str, own_page: tuple[str, str]
) -> None:
    """The routes of a link that confirms an address: the page with its button, and the
    button's POST; ``said`` names the confirmed address as ``{email}``."""

    @routes.get(page.path)
    @link_page(page)
    async def button_page(request: web.Request) -> web.StreamResponse:
        _keep_token(request, page)
        return _button_page(request, page)

    @routes.post(page.path)
    @link_page(page)
    async def confirm(request: web.Request) -> web.StreamResponse:
        reply = await _spend_token(request, page, api_path)
        if not reply.ok:
            form = Form()
            return _button_page(request, page, form, status=take_refusal(form, reply))
        email = str(reply.json().get("email", ""))
        next_page = own_page if _signed_in_customer(request) else _SIGN_IN_LINK
        return _done_page(request, done, said.format(email=email), next_page)


_confirmation_link(
    EMAIL_CONFIRMATION,
    "/email-changes/confirm",
    "Adres e-mail potwierdzony",
    "Adres e-mail konta e-BOK to teraz {email}.",
    ("/konto", "Przejdź do konta"),
)
_confirmation_link(
    E_INVOICE_CONFIRMATION,
    "/e-invoice/confirmations",
    "Adres do e-faktur potwierdzony",
    "Kolejne faktury otrzymasz jako e-faktury na adres {email}.",
    ("/faktury/e-faktura", "Przejdź do ustawień e-faktury"),
)


# -- forgotten password ------------------------------------------------------------------------


@routes.get(RESET_PAGE)
async def reset_page(request: web.Request) -> web.StreamResponse:
    ensure_session(request)
    return render(request, "public/reset.html", title="Nie pamiętam hasła", form=Form())


@routes.post(RESET_PAGE)
async def reset(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    login = form.value("login")
    if not login:
        form.error("login", "Wpisz numer klienta.")
    elif not CLIENT_NUMBER.match(login):
        form.error("login", "Numer klienta to 6 cyfr, np. 100001.")
    else:
        reply = await api(request).post("/password-resets", json_body={"login": login})
        if reply.ok:
            redirect(RESET_PAGE + "/wyslano")
        form.take_problem(reply.problem, known=("login",))
    return render(request, "public/reset.html", title="Nie pamiętam hasła", form=form, status=422)


@routes.get(RESET_PAGE + "/wyslano")
async def reset_sent(request: web.Request) -> web.StreamResponse:
    return render(request, "public/reset_sent.html", title="Sprawdź pocztę – nowe hasło")


# -- the regulations ---------------------------------------------------------------------------

VERSION = r"{version:\d{1,6}}"


def _regulations_page(
    request: web.Request, status: int, data: Any, title: str, **context: Any
) -> web.Response:
    if status == 404:
        raise web.HTTPNotFound()
    return render(
        request,
        "public/regulations.html",
        title=title,
        terms=data,
        sections=terms.sections(data["body"]) if data else [],
        **{"notice": None, "upcoming": None, **context},
    )


@routes.get("/regulamin")
async def regulations_current(request: web.Request) -> web.StreamResponse:
    """The regulations in force; ``?wersja=N`` (the regulations e-mail's link) shows N."""
    wanted = request.query.get("wersja", "")
    notice = None
    if wanted.isdigit() and len(wanted) <= 6:
        status, data = await _regulations(request, f"/regulations/{int(wanted)}")
        if status == 200:
            return _regulations_page(
                request, status, data, f"Regulamin e-BOK – wersja {data['version']}"
            )
        if status == 404:
            notice = f"Nie ma wersji {int(wanted)} Regulaminu. Poniżej Regulamin obowiązujący."
    status, data = await _regulations(request, "/regulations/current")
    return _regulations_page(
        request,
        status,
        data,
        "Regulamin e-BOK",
        current=True,
        notice=notice,
        upcoming=data.get("upcoming") if data else None,
    )


@routes.get("/regulamin/" + VERSION)
async def regulations_version(request: web.Request) -> web.StreamResponse:
    number = int(request.match_info["version"])
    status, data = await _regulations(request, f"/regulations/{number}")
    return _regulations_page(request, status, data, f"Regulamin e-BOK – wersja {number}")


def changed_clauses(changes: dict[str, Any]) -> list[dict[str, Any]]:
    """Each changed clause with its name and both versions word by word."""
    shown = []
    for change in changes.get("changes") or []:
        before, after = terms.compared(change.get("previous"), change.get("current"))
        shown.append(
            {
                "name": terms.clause_name(str(change.get("clause", ""))),
                "previous": before if change.get("previous") is not None else None,
                "current": after if change.get("current") is not None else None,
            }
        )
    return shown


@routes.get("/regulamin/" + VERSION + "/zmiany")
async def regulations_changes(request: web.Request) -> web.StreamResponse:
    number = int(request.match_info["version"])
    status, data = await _regulations(request, f"/regulations/{number}/changes")
    if status == 404:
        raise web.HTTPNotFound()
    return render(
        request,
        "public/regulations_changes.html",
        title=f"Zmiany w Regulaminie e-BOK – wersja {number}",
        version=number,
        changes=data,
        clauses=changed_clauses(data) if data else [],
    )
