"""Correspondence (``/korespondencja``) through the portal's pages, against the whole stack:
the five kinds of document with their own fields and attachments, the history, the case page
with its replies and reply deadline, attachment downloads, and another customer's case."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path

import aiohttp
import pytest
from ebok_shared.clock import LOCAL_TZ

from tests.e2e.client import Api, expect
from tests.e2e.data import Customer
from tests.e2e.journeys import CUSTOMER_PASSWORD, Session
from tests.e2e.stack import Stack
from tests.support.waiting import eventually

from .browser import shared_stack  # noqa: F401  (fixture "stack": tests/web's shared one)
from .customers import fresh_customers, sign_in
from .filling import NOT_A_DOCUMENT, PDF, PNG, fill, main_action, value_of
from .portal import Page, Portal
from .signed_in import customer_signed_in, onboarded

pytestmark = pytest.mark.timeout(300)


def today() -> dt.date:
    return dt.datetime.now(LOCAL_TZ).date()


async def api_cases(api: Api, session: Session) -> list[dict[str, object]]:
    items: list[dict[str, object]] = expect(
        await api.get("/me/correspondence", token=session.access), 200
    )["items"]
    return items


async def post_form(portal: Portal, page: Page, pairs: list[tuple[str, object]]) -> Page:
    """The page's form with fields that repeat (checkboxes, several files in one input)."""
    form = page.form(main_action(page))
    data = aiohttp.FormData(quote_fields=False)  # names as a browser sends them
    named = {name for name, _ in pairs}
    for element in form.find_all("input", {"type": "hidden"}):
        data.add_field(str(element["name"]), str(element.get("value", "")))
    for name, value in pairs:
        if isinstance(value, tuple):
            filename, content, content_type = value
            data.add_field(name, content, filename=filename, content_type=content_type)
        else:
            data.add_field(name, str(value))
    assert "csrf" not in named
    return await portal.post(main_action(page), data)


async def kind_form(portal: Portal, slug: str) -> Page:
    chooser = await portal.get("/korespondencja/nowa")
    page = await fill(portal, chooser, {"kind": slug})
    assert page.path == f"/korespondencja/nowa/{slug}", page
    return page


def letters(customer: Customer) -> dict[str, dict[str, str]]:
    """What the customer types for each kind (a form's fields by name)."""
    return {
        "awaria": {
            "place": "ul. Testowa 2, przed budynkiem",
            "description": "Z pokrywy studzienki wypływa woda.\nOd rana.",
            "since_date": (today() - dt.timedelta(days=1)).isoformat(),
            "since_time": "7:30",
            "contact_phone": "600 100 200",
        },
        "jakosc-wody": {
            "place": "Kran w kuchni",
            "description": "Woda jest brązowa.",
            "since_date": (today() - dt.timedelta(days=2)).isoformat(),
        },
        "zmiana-danych": {
            "name": "Jan Nowak",
            "corr_street": "ul. Nowa 5",
            "corr_postal_code": "00-001",
            "corr_city": "Warszawa",
            "comment": "Zmiana po ślubie.",
        },
        "reklamacja": {
            "about": "invoice",
            "invoice_number": customer.invoice_number,
            "reason": "Zużycie na fakturze jest dwa razy większe niż zwykle.",
        },
        "pismo": {"subject": "Prośba o duplikat umowy", "content": "Proszę o duplikat umowy."},
    }


# -- the pages ----------------------------------------------------------------------------


async def test_history_and_the_kind_chooser(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    await customer_signed_in(portal, stack, workdir)
    page = await portal.get("/korespondencja")
    assert page.status == 200, page
    assert page.title == "Korespondencja – e-BOK MPWiK" and page.h1 == "Korespondencja"
    assert "Nie wysłałeś jeszcze żadnego pisma" in page.text
    chooser = await portal.get("/korespondencja/nowa")
    assert chooser.h1 == "Jakie pismo chcesz wysłać?", chooser
    assert len(chooser.soup.select("input[name=kind]")) == 5
    none = await fill(portal, chooser)
    assert none.status == 422, none
    assert none.error_summary() == ["Wybierz, jakie pismo chcesz wysłać."]
    assert none.field_error("kind") == "Wybierz, jakie pismo chcesz wysłać."
    titles = {
        "awaria": "Zgłoszenie awarii",
        "jakosc-wody": "Skarga na jakość wody",
        "zmiana-danych": "Zmiana danych strony umowy",
        "reklamacja": "Reklamacja faktury lub odczytu",
        "pismo": "Pismo",
    }
    for slug, title in titles.items():
        form = await kind_form(portal, slug)
        assert form.h1 == title and form.title == f"{title} – e-BOK MPWiK", form
        assert form.soup.find("input", {"name": "attachments", "multiple": True})
        assert "Najwyżej 5 plików PDF, JPEG lub PNG, każdy do 10 MB" in form.text
    assert (await portal.get("/korespondencja/nowa/podanie")).status == 404


async def test_a_letter_of_each_kind_appears_in_history_and_on_its_case_page(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer, session = await customer_signed_in(portal, stack, workdir)
    numbers: dict[str, str] = {}
    for slug, values in letters(customer).items():
        form = await kind_form(portal, slug)
        pairs: list[tuple[str, object]] = list(values.items())
        if slug == "jakosc-wody":
            pairs += [("problems", "colour"), ("problems", "sediment")]
        if slug == "awaria":
            pairs.append(("attachments", ("studzienka.png", PNG, "image/png")))
        case = await post_form(portal, form, pairs)
        assert case.path.startswith("/korespondencja/") and case.status == 200, case
        assert "Wysłano. Numer sprawy: EBOK/" in case.text, case
        numbers[slug] = case.h1.rsplit(" ", 1)[-1]
        assert case.title == f"Sprawa {numbers[slug]} – e-BOK MPWiK"
        assert "Przyjęte" in case.text

    cases = {str(c["number"]): c for c in await api_cases(api, session)}
    assert set(cases) == set(numbers.values())
    kinds = {slug: str(cases[number]["kind"]) for slug, number in numbers.items()}
    assert kinds == {
        "awaria": "failure_report",
        "jakosc-wody": "water_quality_complaint",
        "zmiana-danych": "data_change",
        "reklamacja": "reklamacja",
        "pismo": "letter",
    }
    history = await portal.get("/korespondencja")
    rows = [
        r.get_text(" ", strip=True).replace("\u00a0", " ") for r in history.soup.select("tbody tr")
    ]
    assert len(rows) == 5
    for number in numbers.values():
        assert any(number in row for row in rows), number
    reklamacja = next(r for r in rows if numbers["reklamacja"] in r)
    assert "Reklamacja" in reklamacja and "zostało 14 dni" in reklamacja, reklamacja
    failure = next(r for r in rows if numbers["awaria"] in r)
    assert "1 załącznik" in failure and "—" in failure, failure

    # Each case page shows what was written, in Polish.
    by_number = {number: f"/korespondencja/{cases[number]['id']}" for number in numbers.values()}
    page = await portal.get(by_number[numbers["jakosc-wody"]])
    assert "barwa, osad" in page.text and "Kran w kuchni" in page.text, page
    assert "Termin odpowiedzi" in page.text and "zostało 14 dni" in page.text
    page = await portal.get(by_number[numbers["zmiana-danych"]])
    assert "Adres do korespondencji ul. Nowa 5, 00-001 Warszawa" in page.text, page
    assert "Jan Nowak" in page.text and "Termin odpowiedzi" not in page.text
    page = await portal.get(by_number[numbers["reklamacja"]])
    assert f"Faktura {customer.invoice_number}" in page.text, page
    page = await portal.get(by_number[numbers["pismo"]])
    assert "Temat Prośba o duplikat umowy" in page.text, page
    page = await portal.get(by_number[numbers["awaria"]])
    assert "Telefon kontaktowy 600 100 200" in page.text, page
    assert (
        f"Od kiedy {(today() - dt.timedelta(days=1)).day} " in page.text
        and "godz. 07:30" in page.text
    )
    assert "Pobierz załącznik studzienka.png" in page.text


async def test_attachments_download_and_replies_show_on_the_case_page(
    portal: Portal, stack: Stack, api: Api, workdir: Path, operator: Session
) -> None:
    _customer, _session = await customer_signed_in(portal, stack, workdir)
    form = await kind_form(portal, "pismo")
    # Two files in one input, as a browser sends a multiple choice.
    case = await post_form(
        portal,
        form,
        [
            ("subject", "Skany umowy"),
            ("content", "W załączeniu skany."),
            ("attachments", ("umowa zgłoszenia.pdf", PDF, "application/pdf")),
            ("attachments", ("strona 2.png", PNG, "image/png")),
        ],
    )
    assert case.path.startswith("/korespondencja/"), case
    links = [a for a in case.soup.select("a[href*='/zalaczniki/']")]
    assert [a.get_text(" ", strip=True) for a in links] == [
        "Pobierz załącznik umowa zgłoszenia.pdf",
        "Pobierz załącznik strona 2.png",
    ], case
    pdf = await portal.get(str(links[0]["href"]))
    assert pdf.status == 200 and pdf.body == PDF, pdf
    assert pdf.headers["Content-Type"].startswith("application/pdf")
    assert pdf.headers["Content-Disposition"].startswith("attachment;")
    assert "umowa%20zg%C5%82oszenia.pdf" in pdf.headers["Content-Disposition"]
    assert pdf.headers["Cache-Control"] == "no-store"
    png = await portal.get(str(links[1]["href"]))
    assert png.body == PNG and png.headers["Content-Type"].startswith("image/png")

    case_id = case.path.rsplit("/", 1)[-1]
    expect(
        await api.post(
            f"/operator/correspondence/cases/{case_id}/replies",
            token=operator.access,
            json={"body": "Dziękujemy.\nDuplikat wyślemy pocztą."},
        ),
        201,
    )
    answered = await portal.get(case.path)
    assert "Udzielono odpowiedzi" in answered.text, answered
    reply = answered.soup.select_one("section.card")
    assert reply is not None and "Biuro Obsługi Klienta" in reply.get_text(" ", strip=True)
    assert "Duplikat wyślemy pocztą." in reply.get_text(" ", strip=True)


async def test_bad_inputs_give_the_summary_and_field_messages_with_the_values_kept(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    _customer, session = await customer_signed_in(portal, stack, workdir)
    form = await kind_form(portal, "awaria")
    empty = await fill(portal, form, {"place": "", "description": "", "since_date": ""})
    assert empty.status == 422, empty
    assert empty.field_error("place") == "Podaj miejsce, np. adres lub punkt poboru wody."
    assert empty.field_error("description") == "Opisz, co się dzieje."
    assert empty.field_error("since_date") == "Podaj datę wystąpienia problemu."
    assert empty.field_error("contact_phone").startswith("Podaj numer telefonu")
    assert len(empty.error_summary()) == 4

    bad = await fill(
        portal,
        form,
        {
            "place": "ul. Testowa 2",
            "description": "Wyciek",
            "since_date": (today() + dt.timedelta(days=3)).isoformat(),
            "contact_phone": "dzwoń wieczorem",
        },
        files={"attachments": ("wirus.exe", NOT_A_DOCUMENT, "application/octet-stream")},
    )
    assert bad.status == 422, bad
    assert bad.field_error("since_date") == "Data wystąpienia problemu nie może być z przyszłości."
    assert bad.field_error("contact_phone") == "Podaj numer telefonu: 9–15 cyfr, np. 600 100 200."
    assert "nie jest plikiem PDF, JPEG ani PNG" in bad.field_error("attachments")
    assert value_of(bad, "place") == "ul. Testowa 2" and value_of(bad, "description") == "Wyciek"
    assert value_of(bad, "contact_phone") == "dzwoń wieczorem"

    quality = await fill(
        portal,
        await kind_form(portal, "jakosc-wody"),
        {"place": "Kran", "since_date": f"{today() - dt.timedelta(days=1):%d.%m.%Y}"},
    )
    assert quality.field_error("problems") == "Zaznacz, co jest nie tak z wodą.", quality

    change = await fill(
        portal, await kind_form(portal, "zmiana-danych"), {"address_street": "ul. Nowa 1"}
    )
    assert change.field_error("address_postal_code").startswith("Kod pocztowy"), change
    assert change.field_error("address_city").startswith("Miejscowość")
    assert value_of(change, "address_street") == "ul. Nowa 1"
    nothing = await fill(portal, await kind_form(portal, "zmiana-danych"))
    assert nothing.field_error("name") == "Podaj co najmniej jedną nową wartość.", nothing

    # The service's own rule at its field: an invoice that is not the customer's.
    (other,) = await fresh_customers(stack, workdir)
    foreign = await fill(
        portal,
        await kind_form(portal, "reklamacja"),
        {"about": "invoice", "invoice_number": other.invoice_number, "reason": "Za dużo."},
    )
    assert foreign.status == 422, foreign
    assert foreign.field_error("invoice_number") == "Na Twoim koncie nie ma faktury o tym numerze"
    assert value_of(foreign, "invoice_number") == other.invoice_number
    unchosen = await fill(portal, await kind_form(portal, "reklamacja"), {"reason": "Za dużo."})
    assert unchosen.field_error("about") == "Wybierz, czego dotyczy reklamacja.", unchosen
    assert await api_cases(api, session) == []  # nothing sent by any of these


async def test_a_double_submit_sends_one_letter(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    _customer, session = await customer_signed_in(portal, stack, workdir)
    form = await kind_form(portal, "pismo")
    values = {"subject": "Jedno pismo", "content": "Wysłane dwa razy."}
    files = {"attachments": ("skan.pdf", PDF, "application/pdf")}
    first, second = await asyncio.gather(
        fill(portal, form, values, files=files), fill(portal, form, values, files=files)
    )
    assert first.path == second.path and first.path.startswith("/korespondencja/"), (
        first,
        second,
    )
    again = await fill(portal, form, values, files=files)
    assert again.path == first.path, again
    assert len(await api_cases(api, session)) == 1


async def test_another_customers_case_is_the_404_page_and_the_email_link_opens_the_case(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    owner, _owner_session = await customer_signed_in(portal, stack, workdir)
    case = await fill(
        portal,
        await kind_form(portal, "pismo"),
        {"subject": "Moja sprawa", "content": "Treść."},
        files={"attachments": ("skan.pdf", PDF, "application/pdf")},
    )
    case_path = case.path
    attachment = next(link for link in case.links() if "/zalaczniki/" in link)
    await portal.submit(case, action="/wyloguj")

    # The e-mail's link opened before signing in: sign in, then the case page itself.
    asked = await portal.get(case_path)
    assert asked.path == "/logowanie", asked
    opened = await fill(
        portal, asked, {"login": owner.client_number, "password": CUSTOMER_PASSWORD}
    )
    assert opened.path == case_path and "Moja sprawa" in opened.text, opened
    await portal.submit(opened, action="/wyloguj")

    intruder, _ = await onboarded(stack, workdir)
    assert (await sign_in(portal, intruder.client_number)).path == "/pulpit"
    for path in (case_path, attachment, f"/korespondencja/{uuid.uuid4()}", "/korespondencja/x1"):
        page = await portal.get(path)
        assert page.status == 404 and page.h1 == "Nie znaleziono strony", (path, page)
        assert "Moja sprawa" not in page.text


async def test_a_suspended_section_and_a_stopped_service_leave_the_page_standing(
    portal: Portal, stack: Stack, api: Api, workdir: Path, operator: Session
) -> None:
    _, session = await customer_signed_in(portal, stack, workdir)
    section = "/operator/portal-settings/sections/correspondence"
    message = "Korespondencja jest wyłączona do 18:00 z powodu prac serwisowych."

    async def section_answers(status: int) -> None:
        """Until the gateway applies the operator's switch (every replica, within a second)."""

        async def applied() -> bool:
            return (await api.get("/me/correspondence", token=session.access)).status == status

        await eventually(applied, f"the section answering {status}", within=5, step=0.02)

    expect(
        await api.put(section, token=operator.access, json={"mode": "off", "message": message}),
        200,
    )
    try:
        await section_answers(503)
        page = await portal.get("/korespondencja")
        assert page.status == 200 and message in page.text, page
        form = await kind_form(portal, "pismo")
        expect(
            await api.put(
                section, token=operator.access, json={"mode": "read_only", "message": None}
            ),
            200,
        )
        await section_answers(200)
        refused = await fill(portal, form, {"subject": "Temat", "content": "Treść."})
        assert refused.status == 422, refused
        assert any("nie możesz ich teraz zmieniać" in s for s in refused.error_summary())
        assert value_of(refused, "subject") == "Temat"
    finally:
        expect(await api.put(section, token=operator.access, json={"mode": "on"}), 200)

    await stack.stop_service("correspondence")
    try:
        page = await portal.get("/korespondencja")
        assert page.status == 200 and "chwilowo niedostępne" in page.text, page
        assert page.h1 == "Korespondencja"
    finally:
        await stack.start_service("correspondence")
