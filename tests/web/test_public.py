"""Public pages: registration, activation, the first sign-in's own password, the forgotten
password, the e-invoice address confirmation, the regulations, and every link the e-mails
carry opening a page of the portal."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from bs4 import Tag
from ebok_notifier.render import PAGES, Brand, Renderer
from ebok_web.http_public import amount

from tests.e2e.client import Api, expect
from tests.e2e.journeys import CUSTOMER_PASSWORD, log_in
from tests.e2e.mail import Mail, subject_has, wait_for_mail
from tests.e2e.stack import Stack
from tests.notifier.test_render import SAMPLES

from .browser import shared_stack  # noqa: F401  (fixture "stack": tests/web's shared one)
from .customers import fresh_customers, ready_customer, sign_in
from .portal import Page, Portal

REGISTRATION_FIELDS = ["client_number", "invoice_number", "invoice_gross", "email", "accept"]


def link_to(mail: Mail, page: str) -> str:
    """The path and query of the e-mail's first link to ``page``."""
    for link in mail.links():
        parts = urlsplit(link)
        if parts.path == page:
            return f"{parts.path}?{parts.query}"
    raise AssertionError(f"no link to {page} in {mail.subject!r}:\n{mail.text}")


def cookie(portal: Portal) -> str | None:
    return next((c.value for c in portal.http.cookie_jar if c.key == "__Host-ebok"), None)


def tag(page: Page, selector: str) -> Tag:
    found = page.soup.select_one(selector)
    assert found is not None, f"no {selector} on {page}"
    return found


def kept(page: Page, name: str) -> str | None:
    element = page.soup.find(id=name)
    assert element is not None, f"no field {name} on {page}"
    value = element.get("value")
    return str(value) if value is not None else None


# -- registration ------------------------------------------------------------------------------


async def test_registration_page_shows_the_terms_and_where_to_find_the_proof(
    portal: Portal,
) -> None:
    page = await portal.get("/rejestracja")
    assert page.status == 200, page
    assert page.title == "Rejestracja – e-BOK MPWiK"
    assert page.h1 == "Załóż konto w e-BOK"
    assert "/regulamin/1" in page.links()
    assert page.soup.select_one("details.terms-text h3"), "the terms' text to read in place"
    checkbox = page.soup.find("input", {"name": "accept", "type": "checkbox"})
    assert checkbox is not None and not checkbox.has_attr("checked")
    where = {"client_number": "Numer klienta", "invoice_number": "Faktura VAT nr"}
    where["invoice_gross"] = "Razem brutto"  # the labels printed on the invoice
    for name, label in where.items():
        hint = page.soup.find(id=f"{name}-hint")
        assert hint is not None and label in hint.get_text(), name
        assert f"{name}-hint" in str(tag(page, f"#{name}")["aria-describedby"])


async def test_registration_form_says_what_is_wrong_and_keeps_what_was_typed(
    portal: Portal,
) -> None:
    page = await portal.get("/rejestracja")
    empty = await portal.submit(page, action="/rejestracja")
    assert empty.status == 422, empty
    assert [a["href"] for a in empty.soup.select(".error-summary a")] == [
        "#" + name for name in REGISTRATION_FIELDS
    ]
    assert empty.field_error("client_number") == "Wpisz numer klienta."
    assert empty.field_error("accept").startswith("Zaznacz, że akceptujesz Regulamin")

    typed = {
        "client_number": "12345",
        "invoice_number": "99999912345",
        "invoice_gross": "sto złotych",
        "email": "jan(at)example.pl",
    }
    wrong = await portal.submit(empty, typed, action="/rejestracja")
    assert wrong.status == 422, wrong
    assert wrong.field_error("client_number") == "Numer klienta to 6 cyfr, np. 100001."
    assert wrong.field_error("invoice_gross") == "Wpisz kwotę w złotych, np. 140,63."
    assert wrong.field_error("email").startswith("Wpisz adres e-mail w poprawnej postaci")
    for name, value in typed.items():
        assert kept(wrong, name) == value

    mismatched = await portal.submit(
        wrong,
        {"client_number": "123456", "invoice_number": "99999912345", "accept": "1"},
        action="/rejestracja",
    )
    assert mismatched.field_error("invoice_number").startswith(
        "Numer faktury zaczyna się od numeru klienta"
    )
    assert "client_number" not in [
        a["href"][1:] for a in mismatched.soup.select(".error-summary a")
    ]
    assert tag(mismatched, "#accept").has_attr("checked")  # the tick is kept too


async def test_registration_refused_by_the_api_shows_its_reason_at_the_field(
    portal: Portal,
) -> None:
    """Terms changed while the form was open: the API names the version, the form asks to
    accept the terms in force (the tick is not carried over to new terms)."""
    page = await portal.get("/rejestracja")
    refused = await portal.submit(
        page,
        {
            "client_number": "123456",
            "invoice_number": "1234562601001",
            "invoice_gross": "140,63",
            "email": "jan@example.pl",
            "accept": "1",
            "regulations_version": "999",
        },
        action="/rejestracja",
    )
    assert refused.status == 422, refused
    assert "wersja 1" in refused.field_error("accept"), refused
    assert not tag(refused, "#accept").has_attr("checked")
    assert kept(refused, "invoice_gross") == "140,63"


async def test_registration_activation_first_sign_in_own_password_dashboard(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    (customer,) = await fresh_customers(stack, workdir)
    page = await portal.get("/rejestracja")
    sent = await portal.submit(
        page,
        {
            "client_number": customer.client_number,
            "invoice_number": customer.invoice_number,
            "invoice_gross": customer.gross.replace(".", ","),  # typed the Polish way
            "email": customer.email,
            "accept": "1",
        },
        action="/rejestracja",
    )
    assert sent.path == "/rejestracja/wyslano", sent
    assert "w ciągu 24 godzin" in sent.text

    mail = await wait_for_mail(stack.maildir, customer.email, subject_has("Aktywuj konto"))
    link = link_to(mail, "/aktywacja")
    token = mail.token("/aktywacja")
    opened = await portal.get(link)
    assert opened.status == 200 and opened.h1 == "Aktywacja konta", opened
    assert opened.headers["Referrer-Policy"] == "no-referrer"
    assert token not in opened.html, "the token stays out of the page"
    assert opened.history and "token" not in opened.url, "and out of the address bar"

    activated = await portal.submit(opened, action="/aktywacja")
    assert activated.status == 200 and activated.h1 == "Konto aktywne", activated
    assert activated.headers["Referrer-Policy"] == "no-referrer"
    initial = tag(activated, "#initial-password").get_text(strip=True)
    assert len(initial) >= 8
    copy = activated.soup.find("button", {"data-copy": "initial-password"})
    assert copy is not None and copy.has_attr("hidden") and copy["type"] == "button"
    assert "nie zostanie wyświetlone ponownie" in activated.text
    assert "/logowanie" in activated.links()

    again = await portal.get(link)  # the page opens again (it cannot know), its POST not
    spent = await portal.submit(again, action="/aktywacja")
    assert spent.status == 410 and spent.h1 == "Ten link jest nieaktualny", spent
    assert initial not in spent.html

    first = await sign_in(portal, customer.client_number, initial)
    assert first.path == "/haslo/zmiana", first
    assert first.h1 == "Ustaw własne hasło"
    assert "Menu główne" not in first.html, "a restricted session has no menu"
    elsewhere = await portal.get("/konto")
    assert elsewhere.path == "/haslo/zmiana", elsewhere

    mismatch = await portal.submit(
        first,
        {
            "current_password": initial,
            "new_password": CUSTOMER_PASSWORD,
            "new_password_repeat": CUSTOMER_PASSWORD + "x",
        },
        action="/haslo/zmiana",
    )
    assert mismatch.status == 422
    assert (
        mismatch.field_error("new_password_repeat") == "Hasła nie są takie same. Wpisz je ponownie."
    )
    for name in ("current_password", "new_password", "new_password_repeat"):
        assert kept(mismatch, name) in (None, ""), "passwords are never sent back"
    assert initial not in mismatch.html and CUSTOMER_PASSWORD not in mismatch.html
    weak = await portal.submit(
        mismatch,
        {"current_password": initial, "new_password": "krotkie", "new_password_repeat": "krotkie"},
        action="/haslo/zmiana",
    )
    assert weak.status == 422
    assert weak.field_error("new_password").startswith("Hasło nie spełnia wymagań"), weak

    before = cookie(portal)
    done = await portal.submit(
        weak,
        {
            "current_password": initial,
            "new_password": CUSTOMER_PASSWORD,
            "new_password_repeat": CUSTOMER_PASSWORD,
        },
        action="/haslo/zmiana",
    )
    assert done.path == "/pulpit" and done.status == 200, done
    assert "Hasło zostało ustawione" in done.text
    assert cookie(portal) != before, "a new session id after the password change"
    assert "Menu główne" in done.html
    assert (await portal.get("/konto")).path == "/konto"
    full = await log_in(api, customer.client_number, CUSTOMER_PASSWORD)
    assert full["restrictions"] == [], full


# -- forgotten password ------------------------------------------------------------------------


async def test_forgotten_password_by_the_e_mail_link(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await ready_customer(stack, api, workdir)
    page = await portal.get("/haslo/reset")
    assert page.status == 200 and page.h1 == "Nie pamiętam hasła", page
    empty = await portal.submit(page, {"login": ""}, action="/haslo/reset")
    assert empty.status == 422 and empty.field_error("login") == "Wpisz numer klienta."
    wrong = await portal.submit(empty, {"login": "12ab"}, action="/haslo/reset")
    assert wrong.field_error("login") == "Numer klienta to 6 cyfr, np. 100001."
    assert kept(wrong, "login") == "12ab"

    sent = await portal.submit(wrong, {"login": customer.client_number}, action="/haslo/reset")
    assert sent.path == "/haslo/reset/wyslano", sent
    mail = await wait_for_mail(stack.maildir, customer.email, subject_has("nowe hasło"))
    link = link_to(mail, "/haslo/nowe")
    opened = await portal.get(link)
    assert opened.status == 200 and opened.h1 == "Ustaw nowe hasło", opened
    assert opened.headers["Referrer-Policy"] == "no-referrer"
    assert mail.token("/haslo/nowe") not in opened.html

    mismatch = await portal.submit(
        opened,
        {"new_password": "Nowe-Haslo-2027", "new_password_repeat": "Nowe-Haslo-2028"},
        action="/haslo/nowe",
    )
    assert mismatch.status == 422, mismatch
    assert mismatch.field_error("new_password_repeat").startswith("Hasła nie są takie same")
    assert "Nowe-Haslo-2027" not in mismatch.html
    weak = await portal.submit(
        mismatch, {"new_password": "abc", "new_password_repeat": "abc"}, action="/haslo/nowe"
    )
    assert weak.field_error("new_password").startswith("Hasło nie spełnia wymagań"), weak

    done = await portal.submit(
        weak,
        {"new_password": "Nowe-Haslo-2027", "new_password_repeat": "Nowe-Haslo-2027"},
        action="/haslo/nowe",
    )
    assert done.path == "/logowanie", done
    assert "Hasło zostało zmienione" in done.text
    signed_in = await sign_in(portal, customer.client_number, "Nowe-Haslo-2027")
    assert signed_in.path == "/pulpit", signed_in

    used = await portal.get(link)
    spent = await portal.submit(
        used,
        {"new_password": "Inne-Haslo-2029", "new_password_repeat": "Inne-Haslo-2029"},
        action="/haslo/nowe",
    )
    assert spent.status == 410 and "/haslo/reset" in spent.links(), spent


# -- e-invoice address confirmation ------------------------------------------------------------


async def test_e_invoice_address_confirmed_by_its_link(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await ready_customer(stack, api, workdir)
    session = await log_in(api, customer.client_number, CUSTOMER_PASSWORD)
    address = f"faktury.{customer.client_number}@example.pl"
    token = str(session["access_token"])
    expect(await api.put("/me/e-invoice", token=token, json={"email": address}), 202)
    mail = await wait_for_mail(stack.maildir, address, subject_has("e-faktur"))
    opened = await portal.get(link_to(mail, "/faktury/e-faktura/potwierdz"))  # anonymous
    assert opened.status == 200, opened
    assert opened.h1 == "Potwierdzenie adresu do e-faktur"
    assert opened.headers["Referrer-Policy"] == "no-referrer"
    state = expect(await api.get("/me/e-invoice", token=token), 200)
    assert state["status"] != "accepted", "opening the link alone changes nothing"

    done = await portal.submit(opened, action="/faktury/e-faktura/potwierdz")
    assert done.status == 200 and done.h1 == "Adres do e-faktur potwierdzony", done
    assert address in done.text
    state = expect(await api.get("/me/e-invoice", token=token), 200)
    assert state["status"] == "accepted" and state["email"] == address, state


async def test_token_pages_without_a_working_token(portal: Portal) -> None:
    bare = await portal.get("/konto/email/potwierdz")
    assert bare.status == 410 and bare.h1 == "Ten link jest nieaktualny", bare
    assert bare.headers["Referrer-Policy"] == "no-referrer"
    forged = await portal.get("/faktury/e-faktura/potwierdz?token=" + "A" * 40)
    assert forged.status == 200
    refused = await portal.submit(forged, action="/faktury/e-faktura/potwierdz")
    assert refused.status == 410 and "/faktury/e-faktura" in refused.links(), refused
    short = await portal.get("/aktywacja?token=krotki")
    refused = await portal.submit(short, action="/aktywacja")
    assert refused.status == 410 and "/rejestracja" in refused.links(), refused


# -- the regulations ---------------------------------------------------------------------------


async def test_regulations_current_each_version_and_the_changes(portal: Portal) -> None:
    current = await portal.get("/regulamin")
    assert current.status == 200 and current.h1 == "Regulamin e-BOK", current
    assert current.title == "Regulamin e-BOK – e-BOK MPWiK"
    headings = [h.get_text(" ", strip=True) for h in current.soup.select("main h2")]
    assert "II. Rejestracja" in headings, headings
    assert "przesłanie w ciągu 24 h" in current.text  # a clause joined across line breaks

    first = await portal.get("/regulamin/1")
    assert first.status == 200 and first.h1 == "Regulamin e-BOK – wersja 1", first
    by_mail = await portal.get("/regulamin?wersja=1")
    assert by_mail.h1 == "Regulamin e-BOK – wersja 1", by_mail
    unknown_by_mail = await portal.get("/regulamin?wersja=7")
    assert unknown_by_mail.status == 200 and "Nie ma wersji 7" in unknown_by_mail.text
    assert (await portal.get("/regulamin/7")).status == 404
    assert (await portal.get("/regulamin/7/zmiany")).status == 404

    changes = await portal.get("/regulamin/1/zmiany")
    assert changes.status == 200, changes
    assert changes.h1 == "Zmiany w Regulaminie e-BOK – wersja 1"
    assert "pierwsza wersja" in changes.text
    assert changes.soup.select(".compare ins"), "a first version's clauses are all new"


# -- every link the e-mails carry --------------------------------------------------------------

_BASE = "https://portal.invalid"
TOKEN_PAGES = {PAGES[n] for n in ("activate", "reset_password", "confirm_email")} | {
    PAGES["confirm_e_invoice"]
}


def _mail_links() -> list[str]:
    """Every distinct link of every e-mail template, rendered with the notifier's samples."""
    renderer = Renderer(
        Brand(
            utility_name="MPWiK",
            public_base_url=_BASE,
            contact_email="ebok@mpwik.com.pl",
            contact_phone="22 445 50 00",
        )
    )
    found: dict[str, None] = {}
    for kind, context in SAMPLES.items():
        rendered = renderer.render(kind, context)
        for text in (rendered.text, rendered.html):
            for link in Mail("", "", "", text).links():
                if link.startswith(_BASE):
                    found.setdefault(link.removeprefix(_BASE).split('"')[0], None)
    return list(found)


@pytest.mark.parametrize("path", _mail_links())
async def test_every_e_mail_link_opens_a_page_of_the_portal(portal: Portal, path: str) -> None:
    page = await portal.get(path)
    assert page.status != 404 and all(status != 404 for status, _ in page.history), page
    assert page.status == 200, page
    route = urlsplit(path).path
    if route in TOKEN_PAGES and "token=" in path:
        assert page.path == route, page  # the page itself, with its button
        assert page.soup.select("main form button"), page
        assert page.headers["Referrer-Policy"] == "no-referrer"
    elif route == PAGES["reset_password"]:  # no token: "set a new password" → ask for a link
        assert page.path == "/haslo/reset", page
    elif page.path == "/logowanie":  # a customer's page: sign in first, then back there
        assert str(tag(page, "input[name=next]")["value"]).startswith(route)
    else:
        assert page.path == route, page


def test_the_e_mails_link_to_every_page_the_notifier_names() -> None:
    paths = {urlsplit(link).path for link in _mail_links()}
    named = {p.split("{")[0] for p in PAGES.values()}
    assert all(any(path.startswith(p) for path in paths) for p in named), (paths, named)


def test_amounts_as_people_type_them() -> None:
    assert amount("140,63") == amount("140.63") == "140.63"
    assert amount("1 140,63 zł") == amount("1\u00a0140,63") == "1140.63"
    assert amount("140") == "140"
    for wrong in ("140,632", "sto", "-5", "1,2,3", ""):
        assert amount(wrong) is None, wrong
