"""A customer's whole life in e-BOK, in a real browser (Chromium, 1280×800, JavaScript on),
done the way a person does it: through the pages' labels and buttons, the e-mails read from the
SMTP sink. Registration, activation and the password shown once, the forced password change,
the dashboard, a reading with a photo, an invoice's PDF, the e-invoice confirmed by its e-mail,
a failure report with an attachment, two-step login, the data export, the account deleted.

Each step leaves a screenshot (var/screenshots/1280/journey-NN-…); axe runs on the states the
accessibility module cannot reach (the activation's password, a case page, the 2FA setup with
its QR code, the deletion's confirmation, and the reading's "Czy na pewno?" if it comes)."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import struct
import time
import zipfile
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
from ebok_shared.clock import LOCAL_TZ
from playwright.async_api import Download, Page

from tests.e2e.data import Customer
from tests.e2e.mail import Mail, subject_has, wait_for_mail
from tests.e2e.stack import Stack

from .browser import (  # noqa: F401  (stack: the browser modules' shared one)
    DESKTOP,
    Browsing,
    check_axe,
    screenshot,
    shared_stack,
)
from .customers import fresh_customers

pytestmark = pytest.mark.timeout(300)

OWN_PASSWORD = "Moje-Wlasne-Haslo-7"  # not CUSTOMER_PASSWORD: this customer chose it


def small_png(width: int = 4, height: int = 3) -> bytes:
    """A valid RGB PNG of a few pixels (a phone's photo of the meter, in small)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + bytes((40, 90, 200)) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class Journey:
    """One browser tab, and a numbered screenshot after each step."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.step = 0

    async def shot(self, name: str) -> None:
        self.step += 1
        await screenshot(self.page, f"journey-{self.step:02d}-{name}")

    async def press(self, name: str) -> None:
        """Press the main content's button (the header's "Wyloguj" is a button too)."""
        async with self.page.expect_navigation():
            await self.page.get_by_role("main").get_by_role("button", name=name).click()

    async def h1(self) -> str:
        return (await self.page.locator("h1").inner_text()).strip()

    async def main_text(self) -> str:
        return await self.page.get_by_role("main").inner_text()

    async def sign_in(self, login: str, password: str) -> None:
        await self.page.goto("/logowanie")
        await self.page.get_by_label("Numer klienta").fill(login)
        await self.page.get_by_label("Hasło", exact=True).fill(password)
        await self.press("Zaloguj się")

    async def open_mail_link(self, mail: Mail, path: str) -> None:
        """The e-mail's link to ``path``, opened in this tab (the sink's base address may be
        the public one, so only its path and query are taken)."""
        links = [urlsplit(link) for link in mail.links()]
        found = [f"{p.path}?{p.query}" for p in links if p.path == path and p.query]
        assert found, f"no {path} link in {mail.subject!r}:\n{mail.text}"
        await self.page.goto(found[0])
        assert urlsplit(self.page.url).path == path, self.page.url  # the token left the address

    async def download(self, link: str) -> Download:
        async with self.page.expect_download() as started:
            await self.page.get_by_role("link", name=link).click()
        return await started.value


async def read_download(download: Download, folder: Path) -> bytes:
    target = folder / download.suggested_filename
    await download.save_as(target)
    return target.read_bytes()


async def test_a_customers_whole_life_in_the_portal(
    browser_stack: Stack, browsing: Browsing, tmp_path: Path
) -> None:
    (customer,) = await fresh_customers(browser_stack, tmp_path)
    maildir = browser_stack.maildir
    page = await browsing.page(DESKTOP)
    journey = Journey(page)

    initial = await register_and_activate(journey, maildir, customer)
    await first_sign_in_and_own_password(journey, customer, initial)
    await reading_with_a_photo(journey, customer)
    await invoice_pdf(journey, customer, tmp_path)
    await e_invoice_confirmed_by_mail(journey, maildir, customer)
    await failure_report_with_an_attachment(journey)
    secret = await two_step_login_on(journey)
    await sign_out_and_in_with_the_code(journey, customer, secret)
    await data_export(journey, customer, tmp_path)
    await delete_the_account(journey, customer)


# -- the steps --------------------------------------------------------------------------------
async def register_and_activate(journey: Journey, maildir: Path, customer: Customer) -> str:
    page = journey.page
    await page.goto("/")
    async with page.expect_navigation():
        await page.get_by_role("main").get_by_role("link", name="Załóż konto").click()
    assert await journey.h1() == "Załóż konto w e-BOK"
    await page.get_by_label("Numer klienta").fill(customer.client_number)
    await page.get_by_label("Numer faktury").fill(customer.invoice_number)
    await page.get_by_label("Kwota brutto tej faktury (zł)").fill(customer.gross.replace(".", ","))
    await page.get_by_label("Adres e-mail", exact=True).fill(customer.email)
    await page.get_by_label(re.compile("akceptuję go")).check()
    await journey.shot("rejestracja")
    await journey.press("Załóż konto")
    assert await journey.h1() == "Sprawdź pocztę", await journey.main_text()
    await journey.shot("sprawdz-poczte")

    mail = await wait_for_mail(maildir, customer.email, subject_has("Aktywuj konto"))
    await journey.open_mail_link(mail, "/aktywacja")
    assert await journey.h1() == "Aktywacja konta"
    await journey.shot("aktywacja")
    await journey.press("Aktywuj konto")
    assert await journey.h1() == "Konto aktywne"
    password = (await page.locator("#initial-password").inner_text()).strip()
    assert len(password) >= 8, password
    assert customer.client_number in await journey.main_text()
    await check_axe(page, "the activation's result with the password")
    await journey.shot("konto-aktywne")

    # Shown once: the page again (a reload sends the POST's token, spent) does not show it.
    await page.goto("/aktywacja")
    assert password not in await journey.main_text()
    return password


async def first_sign_in_and_own_password(
    journey: Journey, customer: Customer, initial: str
) -> None:
    page = journey.page
    await journey.sign_in(customer.client_number, initial)
    assert await journey.h1() != "Pulpit", "the first sign-in must ask for an own password"
    assert "pierwsze logowanie" in await journey.main_text()
    await journey.shot("pierwsze-logowanie")
    await page.goto("/pulpit")  # nothing else opens until the password is changed
    assert urlsplit(page.url).path != "/pulpit", page.url
    await page.get_by_label("Hasło otrzymane przy aktywacji").fill(initial)
    await page.get_by_label("Nowe hasło", exact=True).fill(OWN_PASSWORD)
    await page.get_by_label("Powtórz nowe hasło").fill(OWN_PASSWORD)
    await journey.press("Ustaw hasło")
    assert urlsplit(page.url).path == "/pulpit", page.url
    assert await journey.h1() == "Pulpit"
    assert f"Klient nr {customer.client_number}" in await page.locator("header").inner_text()
    await journey.shot("pulpit")


async def reading_with_a_photo(journey: Journey, customer: Customer) -> None:
    page = journey.page
    await page.goto(f"/odczyty/{customer.meter}")
    assert await journey.h1() == f"Wodomierz {customer.meter}"
    await page.get_by_label("Stan wodomierza w m³").fill("42,042")
    await page.get_by_label("Zdjęcie wodomierza (nieobowiązkowe)").set_input_files(
        {"name": "licznik.png", "mimeType": "image/png", "buffer": small_png()}
    )
    await journey.shot("odczyt")
    await journey.press("Wyślij odczyt")
    if await journey.h1() == "Czy na pewno?":  # an unusual value for this meter's history
        await check_axe(page, "the reading's unusual-value confirmation")
        await journey.shot("odczyt-czy-na-pewno")
        await journey.press("Tak, stan jest prawidłowy – wyślij odczyt")
    assert await journey.h1() == f"Wodomierz {customer.meter}", await journey.main_text()
    history = page.get_by_role("region", name="Historia odczytów")
    row = history.get_by_role("row").filter(has_text="42,042")
    assert await row.count() == 1, await history.inner_text()
    assert "ze zdjęciem" in await row.inner_text()
    today = dt.datetime.now(LOCAL_TZ).strftime("%d.%m.%Y")  # the utility's day, not UTC's
    assert today in await row.inner_text(), await row.inner_text()
    await journey.shot("odczyt-w-historii")


async def invoice_pdf(journey: Journey, customer: Customer, folder: Path) -> None:
    page = journey.page
    await page.goto("/faktury")
    link = page.get_by_role("link", name=f"Szczegóły faktury {customer.invoice_number}")
    # Where the eye sees the number: Playwright's own click point is the link's visually hidden
    # prefix (its first box, outside the text), which the table cell covers.
    box = await link.bounding_box()
    assert box is not None
    async with page.expect_navigation():
        await link.click(position={"x": box["width"] / 2, "y": box["height"] / 2})
    assert await journey.h1() == f"Faktura {customer.invoice_number}"
    await journey.shot("faktura")
    pdf = await read_download(await journey.download("Pobierz odpis faktury (PDF)"), folder)
    assert pdf.startswith(b"%PDF"), pdf[:40]


async def e_invoice_confirmed_by_mail(journey: Journey, maildir: Path, customer: Customer) -> None:
    page = journey.page
    await page.goto("/faktury/e-faktura")
    assert await journey.h1() == "E-faktura"
    await page.get_by_label("Adres e-mail do e-faktur").fill(customer.email)
    await journey.press("Akceptuję e-fakturę")
    assert "Czeka na potwierdzenie adresu" in await journey.main_text()
    await journey.shot("e-faktura-czeka")

    mail = await wait_for_mail(maildir, customer.email, subject_has("adres do e-faktur"))
    await journey.open_mail_link(mail, "/faktury/e-faktura/potwierdz")
    await journey.press("Potwierdź adres do e-faktur")
    assert await journey.h1() == "Adres do e-faktur potwierdzony", await journey.main_text()
    assert customer.email in await page.get_by_role("status").inner_text()
    await journey.shot("e-faktura-potwierdzona")
    await page.goto("/faktury/e-faktura")
    state = page.get_by_role("region", name="Stan")
    assert "e-mailem na adres" in await state.inner_text(), await state.inner_text()
    assert customer.email in await state.inner_text()


async def failure_report_with_an_attachment(journey: Journey) -> None:
    page = journey.page
    await page.goto("/korespondencja/nowa")
    await page.get_by_label("Zgłoszenie awarii").check()
    await journey.press("Dalej")
    assert await journey.h1() == "Zgłoszenie awarii"
    await page.get_by_label("Miejsce").fill("ul. Testowa 2, studzienka przed budynkiem")
    await page.get_by_label("Co się dzieje?").fill("Z pokrywy studzienki wypływa czysta woda.")
    await page.get_by_label("Od kiedy występuje problem").fill(
        dt.datetime.now(LOCAL_TZ).date().isoformat()
    )
    await page.get_by_label("Telefon kontaktowy").fill("600 100 200")
    await page.get_by_label("Załączniki (nieobowiązkowe)").set_input_files(
        {"name": "studzienka.png", "mimeType": "image/png", "buffer": small_png(6, 6)}
    )
    await journey.shot("awaria")
    await journey.press("Wyślij")
    assert re.fullmatch(r"/korespondencja/[^/]+", urlsplit(page.url).path), page.url
    heading = await journey.h1()
    assert heading.startswith("Zgłoszenie awarii – sprawa "), heading
    text = await journey.main_text()
    assert "Z pokrywy studzienki wypływa czysta woda." in text
    assert await page.get_by_role("link", name="Pobierz załącznik studzienka.png").count() == 1
    await check_axe(page, "a case page")
    await journey.shot("sprawa")


async def two_step_login_on(journey: Journey) -> str:
    page = journey.page
    await page.goto("/konto/dwuetapowe")
    assert await journey.h1() == "Logowanie dwuetapowe"
    await journey.press("Włącz logowanie dwuetapowe")
    assert await journey.h1() == "Włącz logowanie dwuetapowe"
    secret = (await page.locator("#totp-secret").inner_text()).strip().replace(" ", "")
    assert await page.locator(".qr-box svg, .qr-box img").count() == 1, "no QR code"
    await check_axe(page, "the two-step setup with its QR code")
    await journey.shot("dwuetapowe-qr")
    await page.get_by_label("Kod z aplikacji").fill(pyotp.TOTP(secret).now())
    await journey.press("Włącz logowanie dwuetapowe")
    assert await journey.h1() == "Logowanie dwuetapowe włączone", await journey.main_text()
    assert await page.locator("#recovery-codes li").count() > 0
    await journey.shot("dwuetapowe-wlaczone")
    return secret


async def sign_out_and_in_with_the_code(journey: Journey, customer: Customer, secret: str) -> None:
    page = journey.page
    async with page.expect_navigation():
        await page.get_by_role("button", name="Wyloguj").click()
    assert "Wylogowano" in await journey.main_text()
    await journey.sign_in(customer.client_number, OWN_PASSWORD)
    assert await journey.h1() == "Podaj kod z aplikacji"
    # The next step's code (accepted for clock drift): the current one may be the code that
    # turned two-step login on, and a code is good once.
    await page.get_by_label("Kod jednorazowy").fill(pyotp.TOTP(secret).at(time.time() + 30))
    await journey.shot("logowanie-kod")
    await journey.press("Zaloguj się")
    assert await journey.h1() == "Pulpit", await journey.main_text()
    await journey.shot("pulpit-po-kodzie")


async def data_export(journey: Journey, customer: Customer, folder: Path) -> None:
    page = journey.page
    await page.goto("/konto/eksport")
    assert await journey.h1() == "Pobierz moje dane"
    await journey.shot("eksport")
    archive = await read_download(await journey.download("Pobierz archiwum ZIP"), folder)
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        manifest = json.loads(opened.read("manifest.json"))
        assert manifest["client_number"] == customer.client_number, manifest
        assert customer.email in opened.read("dane/auth.json").decode()
    data = await read_download(await journey.download("Pobierz plik JSON z danymi"), folder)
    exported = json.loads(data)
    assert customer.client_number in json.dumps(exported), list(exported)
    assert customer.email in json.dumps(exported)


async def delete_the_account(journey: Journey, customer: Customer) -> None:
    page = journey.page
    await page.goto("/konto/usuniecie")
    assert await journey.h1() == "Usuń konto e-BOK"
    await page.get_by_label("Wiem, co zostanie usunięte, a co zachowane.").check()
    await journey.press("Dalej")
    assert await journey.h1() == "Sprawdź i potwierdź usunięcie konta"
    assert customer.client_number in await journey.main_text()
    await check_axe(page, "the deletion's confirmation")
    await journey.shot("usuniecie-potwierdz")
    await page.get_by_label("Hasło", exact=True).fill(OWN_PASSWORD)
    await journey.press("Usuń konto")
    assert await journey.h1() == "Konto usunięte", await journey.main_text()
    await journey.shot("konto-usuniete")

    await journey.sign_in(customer.client_number, OWN_PASSWORD)
    assert urlsplit(page.url).path == "/logowanie", page.url
    assert await page.locator(".error-summary").is_visible()
    await journey.shot("logowanie-po-usunieciu")
