"""Account pages: overview, e-mail change confirmed by its link, password change (a new
session id), two-step login on and off, the data export, account deletion; and a session
held to new regulations until they are accepted."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pyotp

from tests.e2e.client import Api, expect
from tests.e2e.data import Customer
from tests.e2e.journeys import CUSTOMER_PASSWORD, log_in
from tests.e2e.mail import subject_has, wait_for_mail
from tests.e2e.stack import Stack

from .customers import ready_customer, sign_in
from .portal import Page, Portal
from .test_public import cookie, kept, link_to, tag

NEW_PASSWORD = "Modra-Kropla-2027"
FINAL = "1. Zmiany Regulaminu ogłasza się w e-BOK i wysyła e-mailem.\n"


async def signed_in(portal: Portal, stack: Stack, api: Api, workdir: Path) -> Customer:
    customer = await ready_customer(stack, api, workdir)
    page = await sign_in(portal, customer.client_number)
    assert page.path == "/pulpit", page
    return customer


async def sign_out(portal: Portal, page: Page) -> None:
    gone = await portal.submit(page, action="/wyloguj")
    assert gone.path == "/", gone


async def test_account_overview_and_e_mail_change_confirmed_by_its_link(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await signed_in(portal, stack, api, workdir)
    page = await portal.get("/konto")
    assert page.status == 200 and page.h1 == "Moje konto", page
    assert page.title == "Moje konto – e-BOK MPWiK"
    assert customer.client_number in page.text and customer.email in page.text
    assert "Logowanie dwuetapowe wyłączone" in page.text

    form = await portal.get("/konto/email")
    assert form.status == 200 and form.h1 == "Zmiana adresu e-mail", form
    empty = await portal.submit(form, {"email": ""}, action="/konto/email")
    assert empty.status == 422 and empty.field_error("email") == "Wpisz adres e-mail.", empty
    # Re-authentication: a signed-in session alone does not change the address.
    assert empty.field_error("current_password") == "Wpisz obecne hasło.", empty
    address = f"nowy.{customer.client_number}@example.pl"
    guessed = await portal.submit(
        empty, {"email": address, "current_password": "Nie-To-Haslo-1"}, action="/konto/email"
    )
    assert guessed.status == 422 and guessed.field_error("current_password"), guessed
    assert "Nie-To-Haslo-1" not in guessed.html
    wrong = await portal.submit(
        guessed,
        {"email": "nowy(at)example.pl", "current_password": CUSTOMER_PASSWORD},
        action="/konto/email",
    )
    assert wrong.status == 422 and "poprawnej postaci" in wrong.field_error("email")
    assert kept(wrong, "email") == "nowy(at)example.pl"
    assert [a["href"] for a in wrong.soup.select(".error-summary a")] == ["#email"]

    asked = await portal.submit(
        wrong, {"email": address, "current_password": CUSTOMER_PASSWORD}, action="/konto/email"
    )
    assert asked.path == "/konto", asked
    assert f"Na adres {address} wysłaliśmy link" in asked.text
    assert customer.email in asked.text, "the address changes only once confirmed"

    mail = await wait_for_mail(stack.maildir, address, subject_has("Potwierdź nowy adres"))
    opened = await portal.get(link_to(mail, "/konto/email/potwierdz"))
    assert opened.status == 200 and opened.h1 == "Potwierdzenie adresu e-mail", opened
    assert opened.headers["Referrer-Policy"] == "no-referrer"
    done = await portal.submit(opened, action="/konto/email/potwierdz")
    assert done.status == 200 and done.h1 == "Adres e-mail potwierdzony", done
    assert address in done.text and "/konto" in done.links()
    assert address in (await portal.get("/konto")).text


async def test_password_change_checks_the_form_and_starts_a_new_session(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await signed_in(portal, stack, api, workdir)
    page = await portal.get("/konto/haslo")
    assert page.status == 200 and page.h1 == "Zmiana hasła", page
    empty = await portal.submit(page, action="/konto/haslo")
    assert empty.status == 422
    assert [a["href"] for a in empty.soup.select(".error-summary a")] == [
        "#current_password",
        "#new_password",
        "#new_password_repeat",
    ]
    wrong = await portal.submit(
        empty,
        {
            "current_password": "Nie-To-Haslo-1",
            "new_password": NEW_PASSWORD,
            "new_password_repeat": NEW_PASSWORD,
        },
        action="/konto/haslo",
    )
    assert wrong.status == 422 and wrong.field_error("current_password"), wrong
    assert NEW_PASSWORD not in wrong.html and "Nie-To-Haslo-1" not in wrong.html

    before = cookie(portal)
    changed = await portal.submit(
        wrong,
        {
            "current_password": CUSTOMER_PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_repeat": NEW_PASSWORD,
        },
        action="/konto/haslo",
    )
    assert changed.path == "/konto" and "Hasło zostało zmienione" in changed.text, changed
    assert cookie(portal) not in (None, before), "a new session id after a password change"
    await sign_out(portal, changed)
    again = await sign_in(portal, customer.client_number, NEW_PASSWORD)
    assert again.path == "/pulpit", again


def _at_step_start() -> int:
    """The current TOTP time step, waited for if it is about to end (the codes of a test
    must be checked within the steps they were made for)."""
    into = time.time() % 30
    if into > 20:
        time.sleep(30 - into + 0.2)
    return int(time.time() // 30)


async def test_two_step_login_on_asks_the_code_at_sign_in_and_off(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await signed_in(portal, stack, api, workdir)
    page = await portal.get("/konto/dwuetapowe")
    assert page.status == 200 and page.h1 == "Logowanie dwuetapowe", page
    setup = await portal.submit(page, action="/konto/dwuetapowe/start")
    assert setup.path == "/konto/dwuetapowe/wlacz" and setup.status == 200, setup
    qr = setup.soup.select_one(".qr-box svg")
    assert qr is not None and qr["role"] == "img" and qr.find("title"), "an inline SVG QR code"
    assert qr.find("path"), "drawn, not an image from elsewhere"
    secret = tag(setup, "#totp-secret").get_text().replace(" ", "")
    assert len(secret) >= 16

    short = await portal.submit(setup, {"code": "12"}, action="/konto/dwuetapowe/wlacz")
    assert short.status == 422 and short.field_error("code") == "Kod z aplikacji ma 6 cyfr."
    totp = pyotp.TOTP(secret)
    step = await asyncio.to_thread(_at_step_start)
    wrong = str((int(totp.generate_otp(step)) + 1) % 1_000_000).zfill(6)
    refused = await portal.submit(short, {"code": wrong}, action="/konto/dwuetapowe/wlacz")
    assert refused.status == 422 and refused.field_error("code"), refused
    assert refused.soup.select_one(".qr-box svg"), "the QR code stays for another try"

    enabled = await portal.submit(
        refused, {"code": totp.generate_otp(step - 1)}, action="/konto/dwuetapowe/wlacz"
    )
    assert enabled.h1 == "Logowanie dwuetapowe włączone", enabled
    codes = [c.get_text() for c in enabled.soup.select("#recovery-codes code")]
    assert len(codes) >= 5 and all("-" in c for c in codes), codes
    assert tag(enabled, "button[data-copy=recovery-codes]").has_attr("hidden")
    assert "Logowanie dwuetapowe włączone" in (await portal.get("/konto")).text

    await sign_out(portal, enabled)
    asked = await sign_in(portal, customer.client_number)
    assert asked.path == "/logowanie/kod", asked
    inside = await portal.submit(
        asked, {"totp_code": totp.generate_otp(step)}, action="/logowanie/kod"
    )
    assert inside.path == "/pulpit", inside

    page = await portal.get("/konto/dwuetapowe")
    empty = await portal.submit(page, action="/konto/dwuetapowe/wylacz")
    assert empty.status == 422
    assert empty.field_error("current_password") == "Wpisz obecne hasło."
    assert empty.field_error("code").startswith("Wpisz 6-cyfrowy kod")
    off = await portal.submit(
        empty,
        {"current_password": CUSTOMER_PASSWORD, "code": totp.generate_otp(step + 1)},
        action="/konto/dwuetapowe/wylacz",
    )
    assert off.path == "/konto/dwuetapowe" and "zostało wyłączone" in off.text, off
    await sign_out(portal, off)
    assert (await sign_in(portal, customer.client_number)).path == "/pulpit"


async def test_data_export_downloads_a_file(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await signed_in(portal, stack, api, workdir)
    page = await portal.get("/konto/eksport")
    assert page.status == 200 and page.h1 == "Pobierz moje dane", page
    assert "/konto/eksport/plik" in page.links()
    download = await portal.get("/konto/eksport/plik")
    assert download.status == 200, download
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and customer.client_number in disposition
    assert download.headers["Content-Type"].startswith("application/json")
    assert download.headers["Cache-Control"] == "no-store"
    data = json.loads(download.body)
    assert data["client_number"] == customer.client_number
    assert {"auth", "billing", "readings", "correspondence", "notifier"} <= set(data["services"])

    await sign_out(portal, page)
    anonymous = await portal.get("/konto/eksport/plik")
    assert anonymous.path == "/logowanie", anonymous


async def test_data_export_downloads_the_zip_archive_with_its_manifest(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    """Issue 12: the archive the gateway builds (data, the customer's files, a manifest),
    streamed through web as a download with a Polish file name."""
    customer = await signed_in(portal, stack, api, workdir)
    page = await portal.get("/konto/eksport")
    assert "/konto/eksport/archiwum" in page.links(), page
    download = await portal.get("/konto/eksport/archiwum")
    assert download.status == 200, download
    assert download.headers["Content-Type"] == "application/zip"
    today = dt.date.today().isoformat()
    assert download.headers["Content-Disposition"] == (
        f'attachment; filename="e-bok-dane-{customer.client_number}-{today}.zip"'
    )
    assert download.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in download.headers["Content-Security-Policy"]
    assert download.body[:4] == b"PK\x03\x04"
    with zipfile.ZipFile(io.BytesIO(download.body)) as archive:
        assert archive.testzip() is None
        manifest = json.loads(archive.read("manifest.json"))
        names = set(archive.namelist())
        assert {entry["path"] for entry in manifest["entries"]} <= names
        billing = json.loads(archive.read("dane/billing.json"))
    assert manifest["client_number"] == customer.client_number
    assert {"dane/auth.json", "dane/billing.json", "dane/readings.json"} <= names
    assert billing["client"]["client_number"] == customer.client_number, billing

    await sign_out(portal, page)
    anonymous = await portal.get("/konto/eksport/archiwum")
    assert anonymous.path == "/logowanie", anonymous


async def test_deletion_explains_asks_to_confirm_and_ends_session_and_account(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await signed_in(portal, stack, api, workdir)
    skipped = await portal.get("/konto/usuniecie/potwierdz")
    assert skipped.path == "/konto/usuniecie", "the explainer comes first"
    page = skipped
    assert page.status == 200 and page.h1 == "Usuń konto e-BOK", page
    assert "adres e-mail podany w e-BOK" in page.text  # deleted now (the API's own list)
    kept_rows = page.soup.select(".table-wrap table tbody tr")
    assert kept_rows and page.soup.select("th[scope=col]"), "what is kept, until when, why"
    unticked = await portal.submit(page, action="/konto/usuniecie")
    assert unticked.status == 422 and unticked.field_error("understood"), unticked

    check = await portal.submit(unticked, {"understood": "1"}, action="/konto/usuniecie")
    assert check.path == "/konto/usuniecie/potwierdz", check
    assert check.h1 == "Sprawdź i potwierdź usunięcie konta"
    assert customer.client_number in check.text and customer.email in check.text
    empty = await portal.submit(check, action="/konto/usuniecie/potwierdz")
    assert empty.status == 422 and empty.field_error("current_password"), empty
    wrong = await portal.submit(
        empty, {"current_password": "Nie-To-Haslo-1"}, action="/konto/usuniecie/potwierdz"
    )
    assert wrong.status == 422 and wrong.field_error("current_password"), wrong
    me = await log_in(api, customer.client_number, CUSTOMER_PASSWORD)
    assert me["restrictions"] == [], "a wrong password deletes nothing"

    gone = await portal.submit(
        wrong, {"current_password": CUSTOMER_PASSWORD}, action="/konto/usuniecie/potwierdz"
    )
    assert gone.path == "/konto-usuniete" and gone.h1 == "Konto usunięte", gone
    assert cookie(portal) is None, "the session ended"
    assert (await portal.get("/konto")).path == "/logowanie"
    refused = await sign_in(portal, customer.client_number)
    assert refused.status == 422 and refused.error_summary(), refused
    expect(await api.get("/me", token=str(me["access_token"])), 401)


# -- new regulations in force (these publish versions: they come last) ------------------------


async def new_terms_in_force(stack: Stack, change: Callable[[str], str]) -> int:
    """A new regulations version (``change`` of the newest one's text) in force from now,
    written straight into auth's database (publishing through the API cannot make it
    effective sooner than the notice period)."""
    conn = await asyncpg.connect(stack.database_url("auth"))
    try:
        body = await conn.fetchval("SELECT body FROM regulations ORDER BY version DESC LIMIT 1")
        changed = change(body)
        assert changed != body
        version: int = await conn.fetchval(
            "INSERT INTO regulations (version, body, summary, effective_from, published_at,"
            " published_by) SELECT max(version) + 1, $1, $2, now() - interval '1 second',"
            " now(), 'test' FROM regulations RETURNING version",
            changed,
            "Zmiana zasad korzystania z e-BOK.",
        )
    finally:
        await conn.close()
    return version


async def test_new_terms_hold_the_session_until_accepted(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await ready_customer(stack, api, workdir)
    version = await new_terms_in_force(
        stack,
        lambda body: body.replace(
            "Korzystanie z usług e-BOK jest bezpłatne.", "Korzystanie z e-BOK jest dobrowolne."
        ),
    )
    page = await sign_in(portal, customer.client_number)
    assert page.path == "/regulamin/akceptacja", page
    assert page.h1 == "Nowy Regulamin e-BOK" and f"wersja {version}" in page.text
    assert "Pkt I.5" in [h.get_text(strip=True) for h in page.soup.select(".change h3")]
    assert "usług" in " ".join(d.get_text() for d in page.soup.select(".compare del"))
    assert "dobrowolne" in " ".join(i.get_text() for i in page.soup.select(".compare ins"))
    for elsewhere in ("/pulpit", "/konto", "/konto/haslo"):
        assert (await portal.get(elsewhere)).path == "/regulamin/akceptacja", elsewhere
    export = await portal.get("/konto/eksport")  # GDPR rights do not wait for acceptance
    assert export.path == "/konto/eksport" and export.status == 200, export
    changes = await portal.get(f"/regulamin/{version}/zmiany")
    assert changes.soup.select(".compare del") and changes.soup.select(".compare ins")

    accepted = await portal.submit(page, action="/regulamin/akceptacja")
    assert accepted.path == "/pulpit", accepted
    assert "Zaakceptowałeś(-aś) nowy Regulamin" in accepted.text
    assert (await portal.get("/konto")).path == "/konto"
    token = str((await log_in(api, customer.client_number, CUSTOMER_PASSWORD))["access_token"])
    me = expect(await api.get("/me", token=token), 200)
    assert me["regulations"]["accepted_version"] == version, me


async def test_export_and_deletion_stay_reachable_before_accepting_new_terms(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await ready_customer(stack, api, workdir)
    await new_terms_in_force(stack, lambda body: body + "\n\nVI. Postanowienia końcowe\n\n" + FINAL)
    assert (await sign_in(portal, customer.client_number)).path == "/regulamin/akceptacja"
    download = await portal.get("/konto/eksport/plik")
    assert download.headers.get("Content-Disposition", "").startswith("attachment"), download
    deletion = await portal.get("/konto/usuniecie")
    assert deletion.path == "/konto/usuniecie" and deletion.soup.select("table"), deletion
