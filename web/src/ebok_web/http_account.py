"""Pages of the customer portal: the account (overview, e-mail, password, two-step login,
data export, deletion) and the two pages a restricted session is held to: the first login's
password change and new regulations to accept."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from aiohttp import web
from markupsafe import Markup

from .access import PASSWORD_PAGE, TERMS_PAGE, adopt_tokens, api, customer_page, fresh, session_of
from .forms import Form, read_form, require
from .gateway import GatewayUnavailable, Reply
from .http_public import (
    HOME_AFTER_SIGN_IN,
    changed_clauses,
    check_email,
    check_new_password,
    take_password_problem,
    take_refusal,
)
from .middleware import end_session, start_session
from .qr import qr_svg
from .rendering import redirect, render
from .sessions import Session

routes = web.RouteTableDef()

ACCOUNT = "/konto"
EMAIL = ACCOUNT + "/email"
PASSWORD = ACCOUNT + "/haslo"
TOTP = ACCOUNT + "/dwuetapowe"
EXPORT = ACCOUNT + "/eksport"
DELETION = ACCOUNT + "/usuniecie"
GOODBYE = "/konto-usuniete"
# Both restricted pages open under either restriction: with both at once (a first login
# after new terms came into force) each would otherwise send the browser to the other.
RESTRICTED = ("password_change", "regulations")
GDPR = ("regulations",)  # export and deletion do not wait for new terms to be accepted
DELETION_STEP_SECONDS = 15 * 60  # how long the "check and confirm" step stays open


def _session(request: web.Request) -> Session:
    session = session_of(request)
    assert session is not None  # customer_page let the request in
    return session


async def _get(request: web.Request, path: str) -> Any:
    """One part of a page: its data, or None when the gateway cannot give it now."""
    try:
        reply = await api(request).get(path)
    except GatewayUnavailable:
        return None
    return reply.json() if reply.ok else None


# -- overview and e-mail -----------------------------------------------------------------------


@routes.get(ACCOUNT)
@customer_page()
async def overview(request: web.Request) -> web.StreamResponse:
    me = await _get(request, "/me")
    return render(request, "account/overview.html", title="Moje konto", me=me)


async def _email_page(request: web.Request, form: Form, status: int = 200) -> web.Response:
    me = await _get(request, "/me")
    return render(
        request, "account/email.html", title="Zmiana adresu e-mail", me=me, form=form, status=status
    )


@routes.get(EMAIL)
@customer_page()
async def email_page(request: web.Request) -> web.StreamResponse:
    return await _email_page(request, Form())


@routes.post(EMAIL)
@customer_page()
async def email_change(request: web.Request) -> web.StreamResponse:
    """Re-authenticated (ASVS 3.7.1): the current password, and the code when two-step login
    is on (the form has the field then; auth says if it is needed)."""
    form = await read_form(request)
    check_email(form)
    require(form, "current_password", message="Wpisz obecne hasło.")
    code = _code(form, "totp_code") if form.value("two_step") else None
    if not form.invalid:
        email = form.value("email")
        body = {"email": email, "current_password": form.value("current_password")}
        if code:
            body["totp_code"] = code
        reply = await api(request).post("/me/email-change", json_body=body)
        if reply.ok:
            _session(request).flash.append(
                f"Na adres {email} wysłaliśmy link potwierdzający. Adres konta zmieni się, "
                "gdy go otworzysz i potwierdzisz (link jest ważny 24 godziny)."
            )
            redirect(ACCOUNT)
        form.take_problem(reply.problem, known=("email", "current_password", "totp_code"))
    return await _email_page(request, form, status=422)


# -- password ----------------------------------------------------------------------------------

PASSWORD_FIELDS = ("current_password", "new_password", "new_password_repeat")


async def _change_password(request: web.Request, form: Form) -> bool:
    """The password changed through the API and the session continued under a NEW id with
    the tokens the change returned (an id seen before the change is worth nothing)."""
    require(form, "current_password", message="Wpisz obecne hasło.")
    check_new_password(form)
    if form.invalid:
        return False
    body = {
        "current_password": form.value("current_password"),
        "new_password": form.value("new_password"),
    }
    reply = await api(request).put("/me/password", json_body=body)
    if not reply.ok:
        take_password_problem(form, reply, PASSWORD_FIELDS)
        return False
    session = await start_session(request)
    adopt_tokens(session, reply.json(), "customer")
    return True


def _password_page(request: web.Request, form: Form, *, first: bool, status: int = 200) -> Any:
    return render(
        request,
        "account/password.html",
        title="Ustaw własne hasło" if first else "Zmiana hasła",
        first=first,
        action=PASSWORD_PAGE if first else PASSWORD,
        form=form,
        status=status,
    )


@routes.get(PASSWORD_PAGE)
@customer_page(allow=RESTRICTED)
async def first_password_page(request: web.Request) -> web.StreamResponse:
    if "password_change" not in _session(request).restrictions:
        redirect(PASSWORD)
    return _password_page(request, Form(), first=True)


@routes.post(PASSWORD_PAGE)
@customer_page(allow=RESTRICTED)
async def first_password(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    if await _change_password(request, form):
        _session(request).flash.append("Hasło zostało ustawione. Witamy w e-BOK!")
        redirect(HOME_AFTER_SIGN_IN)
    return _password_page(request, form, first=True, status=422)


@routes.get(PASSWORD)
@customer_page()
async def password_page(request: web.Request) -> web.StreamResponse:
    return _password_page(request, Form(), first=False)


@routes.post(PASSWORD)
@customer_page()
async def password_change(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    if await _change_password(request, form):
        _session(request).flash.append(
            "Hasło zostało zmienione. Na innych urządzeniach trzeba zalogować się ponownie."
        )
        redirect(ACCOUNT)
    return _password_page(request, form, first=False, status=422)


# -- new regulations to accept -----------------------------------------------------------------


async def _terms_page(request: web.Request, form: Form, status: int = 200) -> web.Response:
    current = await _get(request, "/regulations/current")
    changes = await _get(request, f"/regulations/{current['version']}/changes") if current else None
    return render(
        request,
        "account/terms_acceptance.html",
        title="Akceptacja nowego Regulaminu",
        terms=current,
        changes=changes,
        clauses=changed_clauses(changes) if changes else [],
        form=form,
        status=status,
    )


@routes.get(TERMS_PAGE)
@customer_page(allow=RESTRICTED)
async def terms_acceptance_page(request: web.Request) -> web.StreamResponse:
    if "regulations" not in _session(request).restrictions:
        redirect(HOME_AFTER_SIGN_IN)
    return await _terms_page(request, Form())


@routes.post(TERMS_PAGE)
@customer_page(allow=RESTRICTED)
async def accept_terms(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    version = form.value("version")
    if not version.isdigit():
        form.detail = "Nie udało się odczytać wersji Regulaminu. Odśwież stronę."
    else:
        reply = await api(request).post(
            "/me/regulations/acceptances", json_body={"version": int(version)}
        )
        if reply.ok:
            session = _session(request)
            session.access_expires = 0.0  # the restriction lifts with the next token: now
            session = await fresh(request, session)
            session.flash.append("Dziękujemy. Zaakceptowałeś(-aś) nowy Regulamin e-BOK.")
            redirect(HOME_AFTER_SIGN_IN)
        form.take_problem(reply.problem)
    return await _terms_page(request, form, status=422)


# -- two-step login (TOTP) ---------------------------------------------------------------------


async def _totp_page(request: web.Request, form: Form, status: int = 200) -> web.Response:
    me = await _get(request, "/me")
    return render(
        request,
        "account/totp.html",
        title="Logowanie dwuetapowe",
        me=me,
        started=bool(_session(request).pending.get("totp")),
        form=form,
        status=status,
    )


def qr_code(uri: str) -> Markup:
    """The authenticator app's address as a QR code, inline SVG drawn here (no script, no
    third party)."""
    return qr_svg(uri, "Kod QR dla aplikacji uwierzytelniającej")


def _grouped(secret: str) -> str:
    """ "ABCD EFGH …": easier to type from the screen (apps ignore the spaces)."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _totp_setup(
    request: web.Request, form: Form, pending: dict[str, str], status: int = 200
) -> web.Response:
    return render(
        request,
        "account/totp_setup.html",
        title="Włącz logowanie dwuetapowe",
        qr=qr_code(pending["uri"]),
        secret=_grouped(pending["secret"]),
        form=form,
        status=status,
    )


def _code(form: Form, name: str = "code") -> str:
    """A 6-digit code as typed ("123 456" too); its error at the field if it is none."""
    code = form.value(name).replace(" ", "")
    if not code:
        form.error(name, "Wpisz 6-cyfrowy kod z aplikacji uwierzytelniającej.")
    elif not (code.isdigit() and len(code) == 6):
        form.error(name, "Kod z aplikacji ma 6 cyfr.")
    return code


@routes.get(TOTP)
@customer_page()
async def totp_page(request: web.Request) -> web.StreamResponse:
    return await _totp_page(request, Form())


@routes.post(TOTP + "/start")
@customer_page()
async def totp_start(request: web.Request) -> web.StreamResponse:
    reply = await api(request).post("/me/totp")
    session = _session(request)
    if reply.ok:
        answer = reply.json()
        # Until it is confirmed; kept on the server, shown on the setup page only.
        session.pending["totp"] = {"secret": answer["secret"], "uri": answer["otpauth_uri"]}
        redirect(TOTP + "/wlacz")
    if reply.code == "totp-enabled":
        session.pending.pop("totp", None)
        redirect(TOTP)
    form = Form()
    return await _totp_page(request, form, status=take_refusal(form, reply))


@routes.get(TOTP + "/wlacz")
@customer_page()
async def totp_setup_page(request: web.Request) -> web.StreamResponse:
    pending = _session(request).pending.get("totp")
    if not pending:
        redirect(TOTP)
    return _totp_setup(request, Form(), pending)


@routes.post(TOTP + "/wlacz")
@customer_page()
async def totp_enable(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    pending = session.pending.get("totp")
    if not pending:
        redirect(TOTP)
    form = await read_form(request)
    code = _code(form)
    if not form.invalid:
        reply = await api(request).post("/me/totp/activation", json_body={"code": code})
        if reply.ok:
            session.pending.pop("totp", None)
            # The recovery codes exist in this answer only.
            return render(
                request,
                "account/totp_enabled.html",
                title="Logowanie dwuetapowe włączone",
                codes=reply.json()["recovery_codes"],
            )
        form.take_problem(reply.problem, known=("code",))
    return _totp_setup(request, form, pending, status=422)


@routes.post(TOTP + "/wylacz")
@customer_page()
async def totp_disable(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    require(form, "current_password", message="Wpisz obecne hasło.")
    code = _code(form)
    if not form.invalid:
        body = {"current_password": form.value("current_password"), "code": code}
        reply = await api(request).post("/me/totp/removal", json_body=body)
        if reply.ok:
            _session(request).flash.append("Logowanie dwuetapowe zostało wyłączone.")
            redirect(TOTP)
        form.take_problem(reply.problem, known=("current_password", "code"))
    return await _totp_page(request, form, status=422)


# -- data export (GDPR art. 15 and 20) ---------------------------------------------------------


def _export_page(request: web.Request, problem: str | None = None) -> web.Response:
    return render(request, "account/export.html", title="Pobierz moje dane", problem=problem)


@routes.get(EXPORT)
@customer_page(allow=GDPR)
async def export_page(request: web.Request) -> web.StreamResponse:
    return _export_page(request)


@routes.get(EXPORT + "/plik")
@customer_page(allow=GDPR)
async def export_file(request: web.Request) -> web.StreamResponse:
    """The gateway's export, as a file (reading, hence GET)."""
    reply: Reply | None
    try:
        reply = await api(request).get("/me/export")
    except GatewayUnavailable:
        reply = None
    if reply is None or not reply.ok:
        return _export_refused(request, reply)
    return web.Response(
        body=reply.body,
        headers={
            "Content-Type": reply.headers.get("Content-Type", "application/json"),
            "Content-Disposition": f'attachment; filename="{_export_name(request, "json")}"',
            "Cache-Control": "no-store",
        },
    )


@routes.get(EXPORT + "/archiwum")
@customer_page(allow=GDPR)
async def export_archive(request: web.Request) -> web.StreamResponse:
    """The gateway's ZIP archive (the data, the files the customer sent, a manifest), passed
    on to the browser as it comes."""
    answer: Reply | web.StreamResponse | None
    try:
        answer = await api(request).download("/me/export/archive", _export_name(request, "zip"))
    except GatewayUnavailable:
        answer = None
    if answer is None or isinstance(answer, Reply):
        return _export_refused(request, answer)
    return answer


def _export_name(request: web.Request, extension: str) -> str:
    login = _session(request).login or "klient"
    return f"e-bok-dane-{login}-{dt.date.today().isoformat()}.{extension}"


def _export_refused(request: web.Request, reply: Reply | None) -> web.Response:
    detail = reply.problem.get("detail") if reply is not None else None
    return _export_page(
        request, str(detail or "Nie udało się przygotować pliku. Spróbuj za kilka minut.")
    )


# -- deletion (terms II.6) ---------------------------------------------------------------------


async def _deletion_page(request: web.Request, form: Form, status: int = 200) -> web.Response:
    explained = await _get(request, "/me/deletion")
    return render(
        request,
        "account/deletion.html",
        title="Usuń konto",
        terms=explained,
        form=form,
        status=status,
    )


def _deletion_started(session: Session) -> bool:
    started = session.pending.get("deletion", 0)
    return isinstance(started, float | int) and time.time() - started < DELETION_STEP_SECONDS


@routes.get(DELETION)
@customer_page(allow=GDPR)
async def deletion_page(request: web.Request) -> web.StreamResponse:
    return await _deletion_page(request, Form())


@routes.post(DELETION)
@customer_page(allow=GDPR)
async def deletion_understood(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    if not form.value("understood"):
        form.error("understood", "Zaznacz, że wiesz, co zostanie usunięte, a co zachowane.")
        return await _deletion_page(request, form, status=422)
    _session(request).pending["deletion"] = time.time()
    redirect(DELETION + "/potwierdz")


async def _deletion_check(request: web.Request, form: Form, status: int = 200) -> web.Response:
    me = await _get(request, "/me")
    return render(
        request,
        "account/deletion_confirm.html",
        title="Sprawdź i potwierdź usunięcie konta",
        me=me,
        login=_session(request).login,
        form=form,
        status=status,
    )


@routes.get(DELETION + "/potwierdz")
@customer_page(allow=GDPR)
async def deletion_check(request: web.Request) -> web.StreamResponse:
    if not _deletion_started(_session(request)):
        redirect(DELETION)
    return await _deletion_check(request, Form())


@routes.post(DELETION + "/potwierdz")
@customer_page(allow=GDPR)
async def delete_account(request: web.Request) -> web.StreamResponse:
    if not _deletion_started(_session(request)):
        redirect(DELETION)
    form = await read_form(request)
    require(form, "current_password", message="Wpisz hasło, aby potwierdzić usunięcie konta.")
    if not form.invalid:
        body = {"current_password": form.value("current_password"), "confirm": True}
        reply = await api(request).delete("/me", json_body=body)
        if reply.ok:
            end_session(request)  # the account and all its sessions are gone; so is this one
            redirect(GOODBYE)
        form.take_problem(reply.problem, known=("current_password",))
    return await _deletion_check(request, form, status=422)


@routes.get(GOODBYE)
async def goodbye(request: web.Request) -> web.StreamResponse:
    return render(request, "account/deleted.html", title="Konto usunięte")
