"""The operator console's pages without JavaScript (``portal.Portal``), against the whole
stack: sign-in with TOTP and the first password, its own cookie and session store, the
headers and CSRF of the portal, home with the queue counts, the cases queue and a case's
actions, garden-meter requests, readings to verify, accounts (block while the customer is
signed in, unblock), the audit log, and the page naming a missing role."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

import aio_pika
import pytest
from ebok_shared import db
from ebok_shared.bus import Topology
from ebok_shared.polish import long_date

from tests.e2e.client import Api, expect
from tests.e2e.data import customer_rows
from tests.e2e.journeys import OPERATOR_PASSWORD
from tests.e2e.mail import subject_has, wait_for_mail
from tests.e2e.stack import Stack

from .console import (
    ALL_ROLES,
    Operator,
    console_signed_in,
    new_admin,
    new_operator,
    operator_token,
    ready,
    sign_in_form,
)
from .customers import fresh_customers
from .filling import PNG
from .portal import Portal, one, summary_facts
from .signed_in import customer_signed_in, onboarded

CSP_START = "default-src 'self'"
TOKEN_REUSE_SECONDS = 200  # an operator's access token lives 300 s


@pytest.fixture(scope="module")
async def admin(stack: Stack, api: Api) -> Operator:
    """The first admin (``create-admin``), their generated password already changed."""
    return await ready(api, await new_admin(stack))


@pytest.fixture(scope="module")
def admin_token(admin: Operator, api: Api) -> Callable[[], Awaitable[str]]:
    """The admin's access token, signed in again only when it is about to expire (every
    sign-in takes one of the admin's TOTP codes)."""
    kept: dict[str, tuple[str, float]] = {}

    async def token() -> str:
        if "token" not in kept or time.monotonic() - kept["token"][1] > TOKEN_REUSE_SECONDS:
            kept["token"] = (await operator_token(api, admin), time.monotonic())
        return kept["token"][0]

    return token


@pytest.fixture
async def staff(admin_token: Callable[[], Awaitable[str]], api: Api) -> Operator:
    """A new operator with every role (made by the admin), their first password changed: one
    for each test, because auth takes each TOTP code once, and one operator signing in test
    after test would wait for new 30-second steps."""
    return await ready(api, await new_operator(api, await admin_token(), ALL_ROLES))


@pytest.fixture
async def an_admin(admin_token: Callable[[], Awaitable[str]], api: Api) -> Operator:
    """A new admin for one test, their first password changed (``staff``'s reason: the first
    admin signing in test after test would wait for new TOTP steps)."""
    return await ready(api, await new_operator(api, await admin_token(), ["admin"]))


@pytest.fixture
async def console(stack: Stack) -> AsyncIterator[Portal]:
    """An operator's browser (without JavaScript), apart from the customer's ``portal``."""
    async with Portal.session(stack.portal_url) as http:
        yield Portal(http, stack.portal_url)


def cookie_names(portal: Portal) -> set[str]:
    return {c.key for c in portal.http.cookie_jar}


# -- signing in ----------------------------------------------------------------------------------


async def test_a_new_admin_signs_in_with_a_code_and_sets_a_password_first(
    console: Portal, stack: Stack
) -> None:
    operator = await new_admin(stack)
    page = await sign_in_form(console, operator)
    assert page.path == "/operator/haslo", page
    assert page.title == "Zmiana hasła – Konsola e-BOK"
    assert "pierwsze logowanie" in page.text
    # Until the password is changed, every console page leads back to it.
    assert (await console.get("/operator/sprawy")).path == "/operator/haslo"
    refused = await console.submit(
        page,
        {
            "current_password": operator.password,
            "new_password": "krotkie",
            "new_password_repeat": "krotkie",
        },
        action="/operator/haslo",
    )
    assert refused.status == 422 and refused.field_error("new_password"), refused
    values = {
        "current_password": operator.password,
        "new_password": OPERATOR_PASSWORD,
        "new_password_repeat": OPERATOR_PASSWORD,
    }
    home_page = await console.submit(refused, values, action="/operator/haslo")
    assert home_page.path == "/operator", home_page
    assert "Hasło zostało zmienione." in home_page.text
    assert home_page.h1 == "Konsola e-BOK"
    nav = [
        a.get_text(strip=True) for a in home_page.soup.select("nav[aria-label='Menu konsoli'] a")
    ]
    assert nav[0] == "Start" and "Pracownicy" in nav, nav


async def test_the_code_is_always_asked_and_a_wrong_one_is_refused(
    console: Portal, admin: Operator
) -> None:
    page = await console.get("/operator/logowanie")
    assert page.status == 200 and page.h1 == "Logowanie do konsoli e-BOK"
    empty = await console.submit(page, {}, action="/operator/logowanie")
    assert empty.status == 422, empty
    assert empty.field_error("login") == "Wpisz login."
    assert empty.field_error("totp_code") == "Wpisz kod z aplikacji uwierzytelniającej."
    wrong = await sign_in_form(console, admin, code="000000")
    assert wrong.status == 422 and wrong.path == "/operator/logowanie", wrong
    assert "Nieprawidłowy login, hasło albo kod" in wrong.text
    assert 'value="000000"' not in wrong.html and admin.password not in wrong.html
    assert (await console.get("/operator")).path == "/operator/logowanie"
    assert (await console.get("/operator/")).path == "/operator/logowanie"


async def test_the_console_has_its_own_cookie_and_session_store(
    console: Portal, portal: Portal, an_admin: Operator, stack: Stack, workdir: Path
) -> None:
    home = await console_signed_in(console, an_admin)
    assert "__Host-ebok-operator" in cookie_names(console)
    assert "__Host-ebok" not in cookie_names(console)
    assert home.headers["Cache-Control"] == "no-store"
    assert home.headers["Content-Security-Policy"].startswith(CSP_START)
    assert "'unsafe-inline'" not in home.headers["Content-Security-Policy"]
    assert 'lang="pl"' in home.html
    # A customer's session does not open the console, and an operator's cookie does not
    # open the portal's customer pages (each store knows only its own audience).
    await customer_signed_in(portal, stack, workdir)
    assert (await portal.get("/operator")).path == "/operator/logowanie"
    operator_cookie = next(
        c.value for c in console.http.cookie_jar if c.key == "__Host-ebok-operator"
    )
    stolen = await console.get("/pulpit", headers={"Cookie": f"__Host-ebok={operator_cookie}"})
    assert stolen.path == "/logowanie", stolen
    # Signing out ends the session (the old cookie opens nothing).
    signed_out = await console.submit(home, action="/operator/wyloguj")
    assert signed_out.path == "/operator/logowanie" and "Wylogowano z konsoli." in signed_out.text
    back = await console.get(
        "/operator", headers={"Cookie": f"__Host-ebok-operator={operator_cookie}"}
    )
    assert back.path == "/operator/logowanie"


async def test_a_console_form_without_its_token_is_refused(
    console: Portal, an_admin: Operator
) -> None:
    home = await console_signed_in(console, an_admin)
    refused = await console.post("/operator/wyloguj", {"csrf": "zepsuty"})
    assert refused.status == 403 and refused.h1 == "Formularz wygasł", refused
    assert (await console.get("/operator")).path == "/operator", home


# -- cases ---------------------------------------------------------------------------------------


async def test_cases_urgent_first_then_deadline_take_reply_evidence_status_close(
    console: Portal, portal: Portal, staff: Operator, stack: Stack, api: Api, workdir: Path
) -> None:
    customer, session = await customer_signed_in(portal, stack, workdir)
    complaint = {
        "kind": "reklamacja",
        "invoice_number": customer.invoice_number,
        "reason": "Kwota na fakturze jest dwa razy wyższa niż zwykle.",
    }
    failure = {
        "kind": "failure_report",
        "place": "ul. Testowa 2, przed budynkiem",
        "description": "Z pokrywy studzienki wypływa woda.",
        "since": dt.date.today().isoformat(),
        "contact_phone": "+48 600 100 200",
    }
    made = []
    for document in (complaint, failure):
        made.append(
            expect(
                await api.post(
                    "/me/correspondence", token=session.access, json=document, idempotent=True
                ),
                201,
            )
        )
    complaint_case, failure_case = made

    home = await console_signed_in(console, staff)
    tile = next(card for card in home.soup.select(".card") if "Otwarte sprawy" in card.get_text())
    count = tile.select_one("[data-count]")
    assert count is not None, tile
    assert int(count.get_text(strip=True).replace("\u00a0", "")) >= 2

    queue = await console.get("/operator/sprawy")
    assert queue.status == 200 and queue.title == "Sprawy – Konsola e-BOK", queue
    rows = [r.get_text(" ", strip=True) for r in queue.soup.select("tbody tr")]
    numbers = [
        n for row in rows for n in (complaint_case["number"], failure_case["number"]) if n in row
    ]
    assert numbers.index(failure_case["number"]) < numbers.index(complaint_case["number"]), rows
    complaint_row = next(r for r in rows if complaint_case["number"] in r)
    assert "zostało 14\u00a0dni" in complaint_row, complaint_row  # the reply deadline, days left
    assert "Pilne" in next(r for r in rows if failure_case["number"] in r)

    case_page = await console.get(f"/operator/sprawy/{complaint_case['id']}")
    assert case_page.h1 == f"Reklamacja – sprawa {complaint_case['number']}", case_page
    assert "Kwota na fakturze jest dwa razy wyższa" in case_page.text
    taken = await console.submit(
        case_page, action=f"/operator/sprawy/{complaint_case['id']}/przydziel"
    )
    assert "Sprawa jest teraz przydzielona Tobie." in taken.text, taken
    assert staff.login in taken.text

    empty = await console.submit(
        taken, {"reply_body": ""}, action=f"/operator/sprawy/{complaint_case['id']}/odpowiedz"
    )
    assert empty.status == 422 and empty.field_error("reply_body") == "Wpisz treść odpowiedzi."

    answer = "Sprawdziliśmy odczyty: faktura jest poprawna, zużycie wzrosło w lipcu."
    replied = await console.submit(
        empty,
        {"reply_body": answer},
        action=f"/operator/sprawy/{complaint_case['id']}/odpowiedz",
        files={"attachments": ("odczyty.png", PNG, "image/png")},  # the reply's file
    )
    assert replied.status == 200 and "Odpowiedź wysłana." in replied.text, replied
    assert answer in replied.text and "odczyty.png" in replied.text
    # The customer reads it in the portal (and downloads its file), and gets the e-mail
    # that it is waiting.
    seen = await portal.get(f"/korespondencja/{complaint_case['id']}")
    assert answer in seen.text, seen
    link = seen.soup.select_one("[aria-label='Załączniki do odpowiedzi'] a")
    assert link is not None and "odczyty.png" in link.get_text(), seen
    download = await portal.get(str(link["href"]))
    assert (download.status, download.body) == (200, PNG), download.status
    answered = f"Odpowiedź w sprawie nr {complaint_case['number']}"
    await wait_for_mail(stack.maildir, customer.email, subject_has(answered))

    evidence = await console.submit(
        replied,
        {"evidence_note": "Potrzebne zdjęcie wodomierza."},
        action=f"/operator/sprawy/{complaint_case['id']}/dowody",
    )
    assert "termin odpowiedzi przedłużono" in evidence.text, evidence
    assert "przedłużony z powodu uzupełnienia dowodów" in evidence.text

    status = await console.submit(
        evidence,
        {"new_status": "in_progress"},
        action=f"/operator/sprawy/{complaint_case['id']}/status",
    )
    assert "Status sprawy zmieniony." in status.text and "W trakcie rozpatrywania" in status.text

    closed = await console.submit(
        status,
        {"close_note": "Wyjaśnione."},
        action=f"/operator/sprawy/{complaint_case['id']}/zamknij",
    )
    assert "Sprawa zamknięta." in closed.text and "Zamknięte" in closed.text, closed
    assert not closed.soup.select(
        f"form[action='/operator/sprawy/{complaint_case['id']}/odpowiedz']"
    )
    # The case's history says in Polish what happened, each entry (never the API's codes).
    history = [
        [td.get_text(" ", strip=True) for td in tr.select("td")]
        for tr in closed.soup.select("[aria-labelledby=history-heading] tbody tr")
    ]
    said = [row[2] for row in history]
    assert said[0] == "Sprawa złożona przez klienta" and history[0][1] == (
        f"klient {customer.client_number}"
    ), history
    for expected in (
        "Sprawa przydzielona",
        "Wysłano odpowiedź",
        "Prośba o uzupełnienie dowodów: Potrzebne zdjęcie wodomierza.",
        "Zmiana statusu: Udzielono odpowiedzi → W trakcie rozpatrywania",
        "Sprawa zamknięta: Wyjaśnione.",
    ):
        assert any(line.startswith(expected) for line in said), (expected, said)
    codes = ("submitted", "assigned", "answered", "status_changed", "evidence_needed", "closed")
    assert not any(line.split(":")[0] in codes for line in said), said
    mine_closed = await console.get("/operator/sprawy?status=closed&assignee=me")
    assert complaint_case["number"] in mine_closed.text


# -- garden-meter requests and readings ----------------------------------------------------------


async def test_a_garden_request_is_rejected_only_with_a_reason_the_customer_reads(
    console: Portal, portal: Portal, staff: Operator, stack: Stack, api: Api, workdir: Path
) -> None:
    customer, session = await customer_signed_in(portal, stack, workdir)
    wanted = {
        "kind": "installation",
        "done_on": dt.date.today().isoformat(),
        "contract_number": customer.contract_number,
        "new_serial": f"WG-{customer.client_number}-1",
        "initial_value": "0.000",
        "seal_number": "PL-2026/001",
    }
    submitted = expect(
        await api.post(
            "/me/garden-meter-requests", token=session.access, json=wanted, idempotent=True
        ),
        201,
    )
    await console_signed_in(console, staff)
    queue = await console.get("/operator/wodomierze-ogrodowe")
    assert customer.client_number in queue.text, queue
    item = await console.get(f"/operator/wodomierze-ogrodowe/{submitted['id']}")
    assert item.h1 == f"Montaż wodomierza ogrodowego – klient {customer.client_number}", item
    assert f"WG-{customer.client_number}-1" in item.text
    no_reason = await console.submit(
        item, {"decision": "reject"}, action=f"/operator/wodomierze-ogrodowe/{submitted['id']}"
    )
    assert no_reason.status == 422, no_reason
    assert no_reason.field_error("reason") == "Podaj powód odrzucenia – klient go zobaczy."
    reason = "Plomba nie jest widoczna na zdjęciu; prosimy o ponowne zgłoszenie."
    decided = await console.submit(
        no_reason,
        {"decision": "reject", "reason": reason},
        action=f"/operator/wodomierze-ogrodowe/{submitted['id']}",
    )
    assert (
        decided.path == "/operator/wodomierze-ogrodowe"
        and "Zapisano decyzję: odrzucone." in decided.text
    )
    assert customer.client_number not in decided.text  # gone from the queue of those to decide
    mine = expect(await api.get("/me/garden-meter-requests", token=session.access), 200)
    assert [(r["status"], r["reason"]) for r in mine["items"]] == [("rejected", reason)]


async def test_a_reading_to_verify_shows_its_photo_and_history_and_is_accepted(
    console: Portal, portal: Portal, staff: Operator, stack: Stack, api: Api, workdir: Path
) -> None:
    customer, session = await customer_signed_in(portal, stack, workdir)
    path = f"/me/meters/{quote(customer.meter)}/readings"
    ten_days_ago = (dt.date.today() - dt.timedelta(days=10)).isoformat()
    expect(
        await api.post(
            path,
            token=session.access,
            json={"value": "100", "read_on": ten_days_ago},
            idempotent=True,
        ),
        201,
    )
    form = await portal.get(f"/odczyty/{customer.meter}")
    from .filling import fill

    asked = await fill(
        portal, form, {"value": "5000"}, files={"photo": ("licznik.png", PNG, "image/png")}
    )
    await fill(portal, asked, button=("action", "confirm"))

    await console_signed_in(console, staff)
    queue = await console.get("/operator/odczyty")
    link = next(a for a in queue.soup.select("tbody a") if customer.meter in a.get_text())
    reading = await console.get(str(link["href"]))
    assert reading.status == 200 and reading.h1.startswith(f"Odczyt wodomierza {customer.meter}"), (
        reading
    )
    assert "5 000 m³" in reading.text  # (Page.text joins words with plain spaces)
    photo = reading.soup.select_one("img.photo")
    assert photo is not None and photo["alt"], reading
    image = await console.get(str(photo["src"]))
    assert (
        image.status == 200 and image.body == PNG and image.headers["Content-Type"] == "image/png"
    )
    history = [r.get_text(" ", strip=True) for r in reading.soup.select("tbody tr")]
    assert any("100\u00a0m³" in row for row in history) and any(
        "(ten odczyt)" in row for row in history
    ), history
    accepted = await console.submit(reading, {"decision": "accept"}, action=str(link["href"]))
    assert (
        accepted.path == "/operator/odczyty" and "Zapisano decyzję: przyjęte." in accepted.text
    ), accepted
    mine = expect(await api.get(path, token=session.access), 200)["items"]
    assert mine[0]["status"] == "accepted", mine[0]


# -- accounts ------------------------------------------------------------------------------------


async def test_blocking_an_account_refuses_its_signed_in_customer_then_unblocking(
    console: Portal, portal: Portal, staff: Operator, stack: Stack, api: Api, workdir: Path
) -> None:
    staff_token = await operator_token(api, staff)
    customer, _ = await customer_signed_in(portal, stack, workdir)
    assert (await portal.get("/pulpit")).path == "/pulpit"
    await console_signed_in(console, staff)
    found = await console.get(f"/operator/konta?q={customer.client_number}")
    assert found.status == 200 and customer.email in found.text, found
    account = await console.get(f"/operator/konta/{customer.client_number}")
    assert account.h1 == f"Konto klienta {customer.client_number}" and "aktywne" in account.text
    facts = summary_facts(account.soup)
    assert facts["Planowana blokada"] == "—", facts  # no contract has ended
    sessions = account.soup.select("[aria-labelledby=sessions-heading] tbody tr")
    assert len(sessions) >= 1, account  # the customer signed in above
    # The deletion explainer is auth's (what is erased, what is kept until when), not web's.
    terms = expect(await api.get("/operator/auth/deletion-terms", token=staff_token), 200)
    kept = account.soup.select("[aria-labelledby=zachowane] tbody tr")
    assert len(kept) == len(terms["kept"]) and terms["deleted_now"][0] in account.text, account
    no_reason = await console.submit(
        account, action=f"/operator/konta/{customer.client_number}/blokada"
    )
    assert no_reason.status == 422 and no_reason.field_error("block_reason"), no_reason
    blocked = await console.submit(
        no_reason,
        {"block_reason": "Naruszenie pkt IV.3 Regulaminu (test)."},
        action=f"/operator/konta/{customer.client_number}/blokada",
    )
    assert "Konto zablokowane." in blocked.text and "zablokowane" in blocked.text, blocked
    assert "account.blocked" in blocked.text or "blocked" in blocked.text
    # The customer's next page load is refused: signed out, back to the sign-in page.
    refused = await portal.get("/pulpit")
    assert refused.path == "/logowanie", refused
    unblocked = await console.submit(
        blocked,
        {"unblock_reason": "Wyjaśnione z klientem."},
        action=f"/operator/konta/{customer.client_number}/odblokowanie",
    )
    assert "Konto odblokowane." in unblocked.text, unblocked
    log = await console.get(f"/operator/dziennik?subject={customer.client_number}")
    assert log.status == 200 and log.soup.select("tbody tr"), log
    bad_day = await console.get("/operator/dziennik?since=wczoraj")
    assert (
        bad_day.status == 422
        and bad_day.field_error("since") == "Podaj datę w formacie RRRR-MM-DD."
    )


async def test_the_account_view_shows_the_planned_block_with_its_date(
    console: Portal, staff: Operator, stack: Stack, workdir: Path
) -> None:
    """Terms II.7: a contract that ended schedules the block 30 days later; the account's
    view says when."""
    customer, _ = await onboarded(stack, workdir)
    ended = dt.date.today() - dt.timedelta(days=3)
    contract = next(
        r
        for r in customer_rows(customer.client_number, dt.date.today())[1]
        if r["type"] == "contract"
    )
    batch = workdir / f"termination-{customer.client_number}.jsonl"
    batch.write_text(json.dumps({**contract, "terminated_on": ended.isoformat()}) + "\n", "utf-8")
    code, printed = await stack.run("billing", "feed", str(batch))
    assert code == 0, "\n".join(printed[-20:])
    conn = await db.connect(stack.database_url("auth"))
    try:  # auth learns of it from billing's event (the bus): wait, then look
        for _ in range(300):
            if await conn.fetchval(
                "SELECT block_on FROM scheduled_blocks WHERE client_number = $1",
                customer.client_number,
            ):
                break
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    await console_signed_in(console, staff)
    account = await console.get(f"/operator/konta/{customer.client_number}")
    facts = summary_facts(account.soup)
    planned = long_date(ended + dt.timedelta(days=30))
    assert facts["Planowana blokada"] == (
        f"{planned} (pkt II.7 Regulaminu: po rozwiązaniu umowy)"
    ), facts


async def test_removing_the_last_admins_role_is_refused_on_the_page(
    console: Portal, an_admin: Operator, stack: Stack, api: Api
) -> None:
    """Nobody could manage operators without an active admin: the console shows auth's 409
    (as a 409 page with the reason in its error summary) and the roles stay."""
    conn = await db.connect(stack.database_url("auth"))
    others = await conn.fetch(  # for this test, the new admin is the only active one
        "UPDATE operators SET active = false"
        " WHERE active AND 'admin' = ANY(roles) AND login <> $1 RETURNING login",
        an_admin.login,
    )
    try:
        await console_signed_in(console, an_admin)
        page = await console.get(f"/operator/pracownicy/{an_admin.login}")
        refused = await console.submit(
            page,
            {"role_admin": "", "role_customer_service": "1", "reason": "Już nie administruję."},
            action=f"/operator/pracownicy/{an_admin.login}/role",
        )
        assert refused.status == 409, refused
        summary = refused.soup.select_one(".error-summary")
        assert summary is not None, refused
        assert "To ostatni aktywny administrator" in summary.get_text(" ", strip=True), refused
        left = await console.submit(
            refused,
            {"deactivation_reason": "Odchodzę."},
            action=f"/operator/pracownicy/{an_admin.login}/dezaktywacja",
        )
        left_summary = left.soup.select_one(".error-summary")
        assert left.status == 409 and left_summary is not None, left
        assert "ostatni aktywny administrator" in left_summary.get_text(" ", strip=True)
        token = await operator_token(api, an_admin)
        held = expect(await api.get(f"/operator/auth/operators/{an_admin.login}", token=token), 200)
        assert "admin" in held["roles"], held  # and the token above shows them active
    finally:
        await conn.execute(
            "UPDATE operators SET active = true WHERE login = ANY($1)",
            [r["login"] for r in others],
        )
        await conn.close()


async def test_a_page_outside_the_operators_roles_names_the_missing_role(
    console: Portal, admin_token: Callable[[], Awaitable[str]], api: Api
) -> None:
    clerk = await new_operator(api, await admin_token(), ["customer_service"])
    await console_signed_in(console, clerk)
    refused = await console.get("/operator/pracownicy")
    assert refused.status == 403 and refused.h1 == "Brak uprawnień", refused
    assert "Administrator" in refused.text and "admin" in refused.text
    nav = [a.get_text(strip=True) for a in (await console.get("/operator")).soup.select("nav a")]
    assert "Pracownicy" not in nav and "Sprawy" in nav, nav
    # Publishing terms is the content team's: the page (by the token's roles) or the API
    # (when the page is shown) refuses it, naming the role.
    terms = await console.get("/operator/regulamin")
    if terms.status == 200:
        terms = await console.submit(
            terms,
            {"summary": "Próba", "effective_on": "2099-01-01"},
            action="/operator/regulamin",
            button=("action", "publish"),
        )
    assert terms.status == 403 and "Treści i portal" in terms.text, terms


# -- content: terms and portal sections ----------------------------------------------------------


async def test_new_terms_previewed_side_by_side_then_published_with_the_notice_period(
    console: Portal, staff: Operator, stack: Stack
) -> None:
    await console_signed_in(console, staff)
    page = await console.get("/operator/regulamin")
    assert page.status == 200 and page.h1 == "Regulamin", page
    current = page.soup.select_one("textarea#body")
    assert current is not None and "II." in current.get_text(), page
    text = current.get_text()
    changed = (
        text.replace("II.", "II.", 1) + "\n\nVI. Postanowienia dodatkowe\n1. Nowy punkt testowy.\n"
    )
    too_soon = (dt.date.today() + dt.timedelta(days=14)).isoformat()  # not 14 whole days
    preview = await console.submit(
        page,
        {"body": changed, "summary": "Nowy rozdział VI.", "effective_on": too_soon},
        action="/operator/regulamin",
        button=("action", "preview"),
    )
    assert preview.status == 422, preview
    assert "14 pełnych dni" in preview.field_error("effective_on"), preview
    # Auth compares the draft (POST …/regulations/preview): the new section's title and its
    # first clause, each beside what was there before (nothing).
    compared = " ".join(c.get_text(" ", strip=True) for c in preview.soup.select(".compare"))
    assert "Postanowienia dodatkowe" in compared and "Nowy punkt testowy." in compared, preview
    assert preview.soup.select(".compare ins"), preview  # the added words marked
    in_time = (dt.date.today() + dt.timedelta(days=15)).isoformat()
    published = await console.submit(
        preview,
        {"effective_on": in_time},
        action="/operator/regulamin",
        button=("action", "publish"),
    )
    assert published.path == "/operator/regulamin", published
    assert "Opublikowano wersję" in published.text, published
    assert "Powiadomienia o zmianach" in published.text


async def test_a_portal_section_made_read_only_with_a_message_customers_see(
    console: Portal, portal: Portal, staff: Operator, stack: Stack, workdir: Path
) -> None:
    await customer_signed_in(portal, stack, workdir)
    await console_signed_in(console, staff)
    page = await console.get("/operator/portal")
    assert page.status == 200 and page.h1 == "Sekcje portalu", page
    no_message = await console.submit(
        page, {"mode-garden_meters": "read_only"}, action="/operator/portal/sekcje/garden_meters"
    )
    assert no_message.status == 422, no_message
    assert (
        no_message.field_error("message-garden_meters")
        == "Napisz komunikat, który zobaczą klienci."
    )
    message = "Przerwa techniczna do 18:00."
    saved = await console.submit(
        no_message,
        {"mode-garden_meters": "read_only", "message-garden_meters": message},
        action="/operator/portal/sekcje/garden_meters",
    )
    assert "Zapisano" in saved.text and message in saved.text, saved
    assert staff.login in saved.text  # the history says who
    # The portal reads the sections' states every few seconds (web/sections.py).
    for _ in range(20):
        seen = await portal.get("/wodomierze")
        if message in seen.text:
            break
        await asyncio.sleep(0.5)
    assert message in seen.text and "Tylko do odczytu" in seen.text, seen
    back = await console.submit(
        saved,
        {"mode-garden_meters": "on", "message-garden_meters": ""},
        action="/operator/portal/sekcje/garden_meters",
    )
    assert "Zapisano" in back.text, back


# -- e-mails, feeds, rates, operators ------------------------------------------------------------


async def test_the_e_mail_log_lists_deliveries(console: Portal, staff: Operator) -> None:
    await console_signed_in(console, staff)
    failed = await console.get("/operator/wiadomosci")
    assert failed.status == 200 and failed.h1 == "E-maile", failed
    sent = await console.get("/operator/wiadomosci?status=sent")
    rows = [r.get_text(" ", strip=True) for r in sent.soup.select("tbody tr")]
    assert rows and all("wysłana" in row for row in rows), sent  # registration e-mails at least
    # Only a failed e-mail is sent again: the service's refusal is said on the page.
    first = sent.soup.select_one("tbody tr td")
    token = sent.soup.select_one("input[name=csrf]")
    assert first is not None and token is not None, sent
    refused = await console.post(
        f"/operator/wiadomosci/{first.get_text(strip=True)}", {"csrf": str(token["value"])}
    )
    assert refused.status == 422 and "Nie wysłano ponownie" in refused.text, refused
    assert "nie powiodła" in refused.text, refused


async def test_a_feed_batch_with_a_bad_row_is_refused_whole_with_each_bad_row_shown(
    console: Portal, staff: Operator
) -> None:
    await console_signed_in(console, staff)
    page = await console.get("/operator/zasilenia")
    assert page.status == 200 and page.h1 == "Zasilenia z systemu rozliczeń", page
    no_file = await console.submit(page, {"kind": "billing"}, action="/operator/zasilenia")
    assert no_file.status == 422 and no_file.field_error("batch"), no_file
    bad = b'{"type": "client", "client_number": "12"}\n{"type": "nonsense"}\n'
    refused = await console.submit(
        page,
        {"kind": "billing"},
        action="/operator/zasilenia",
        files={"batch": ("partia.jsonl", bad, "application/x-ndjson")},
    )
    assert refused.status == 422 and "Partii nie przyjęto" in refused.text, refused
    errors = refused.soup.select("table")[0].select("tbody tr")  # the bad rows come first
    lines = [r.select("td")[0].get_text(strip=True) for r in errors]
    assert lines and all(line.isdigit() for line in lines), refused
    assert "2" in lines, lines  # the row of an unknown type
    # A readings batch refused too: both histories say who sent what and how it ended.
    await console.submit(
        page,
        {"kind": "readings"},
        action="/operator/zasilenia",
        files={"batch": ("odczyty.jsonl", b'{"serial": ""}\n', "application/x-ndjson")},
    )
    history = await console.get("/operator/zasilenia")
    for heading in ("batches-heading", "readings-batches-heading"):
        rows = history.soup.select(f"[aria-labelledby={heading}] tbody tr")
        newest = rows[0].get_text(" ", strip=True) if rows else ""
        assert staff.login in newest and "odrzucona" in newest, (heading, newest)
    readings_row = history.soup.select("[aria-labelledby=readings-batches-heading] tbody tr")[0]
    assert "Odczyty wodomierzy" in readings_row.get_text(), readings_row


async def test_rates_and_tariffs_with_a_new_eur_rate(console: Portal, staff: Operator) -> None:
    await console_signed_in(console, staff)
    page = await console.get("/operator/stawki")
    assert page.status == 200 and page.h1 == "Stawki i taryfy", page
    wrong = await console.submit(
        page, {"eur_date": "wczoraj", "eur_pln": "abc"}, action="/operator/stawki/eur"
    )
    assert wrong.status == 422, wrong
    assert wrong.field_error("eur_date") == "Podaj datę w formacie RRRR-MM-DD."
    assert wrong.field_error("eur_pln").startswith("Podaj kurs")
    added = await console.submit(
        wrong,
        {"eur_date": "2026-11-30", "eur_pln": "4,2834", "table_number": "231/A/NBP/2026"},
        action="/operator/stawki/eur",
    )
    assert "Zapisano kurs EUR." in added.text, added
    assert "4,2834" in added.text and "231/A/NBP/2026" in added.text
    tariff = {
        "tariff_group": "G9",
        "valid_from": "2027-01-01",
        "water_price": "5,1234",
        "sewage_price": "7,4321",
        "subscription_fee": "3,50",
        "vat_rate": "8",
    }
    saved = await console.submit(added, tariff, action="/operator/stawki/tariff")
    assert "Zapisano taryfę." in saved.text, saved
    changes = saved.soup.select("[aria-labelledby=tariff-changes-heading] tbody tr")
    newest = changes[0].get_text(" ", strip=True) if changes else ""
    assert "G9" in newest and staff.login in newest and "5,1234" in newest, newest


async def test_payments_to_look_into_list_posted_ones_without_an_order_and_unmatched_titles(
    console: Portal, staff: Operator, stack: Stack, workdir: Path
) -> None:
    (customer,) = await fresh_customers(stack, workdir)
    await console_signed_in(console, staff)
    orphan, titled = str(uuid.uuid4()), f"T-{uuid.uuid4().hex[:12]}"
    day = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    rows = [
        {"payment_id": orphan, "amount": "1.00"},  # an online payment's id, no such order
        {"payment_id": titled, "amount": "2.50", "title": "Za wodę – marzec"},  # names nothing
    ]
    batch = "".join(
        json.dumps(
            {"type": "payment", "client_number": customer.client_number, "paid_on": day, **row},
            ensure_ascii=False,
        )
        + "\n"
        for row in rows
    )
    feeds = await console.get("/operator/zasilenia")
    sent = await console.submit(
        feeds,
        {"kind": "billing"},
        action="/operator/zasilenia",
        files={"batch": ("wplaty.jsonl", batch.encode(), "application/x-ndjson")},
    )
    assert "Partię przyjęto" in sent.text, sent

    page = await console.get("/operator/platnosci")
    assert page.status == 200 and page.h1 == "Płatności do wyjaśnienia", page
    nav = [a.get_text(strip=True) for a in page.soup.select("nav[aria-label='Menu konsoli'] a")]
    assert "Płatności do wyjaśnienia" in nav, nav

    def rows_of(heading: str) -> dict[str, list[str]]:
        found = page.soup.select(f"[aria-labelledby={heading}] tbody tr")
        cells = [[td.get_text(" ", strip=True) for td in r.select("td")] for r in found]
        return {c[0]: c[1:] for c in cells}

    without_order = rows_of("without-order-heading")
    assert without_order[orphan][:3] == [customer.client_number, _short(day), "1,00\u00a0zł"]
    unmatched = rows_of("title-unmatched-heading")
    assert unmatched[titled] == [
        customer.client_number,
        _short(day),
        "2,50\u00a0zł",
        "Za wodę – marzec",
    ]
    assert "niezaksięgowane dłużej niż 3 dni" in page.text


def _short(day: str) -> str:
    """A date as the console's tables print it (DD.MM.RRRR)."""
    return dt.date.fromisoformat(day).strftime("%d.%m.%Y")


async def test_an_admin_creates_an_operator_and_sees_the_password_and_key_once(
    console: Portal, an_admin: Operator
) -> None:
    await console_signed_in(console, an_admin)
    page = await console.get("/operator/pracownicy")
    assert page.status == 200 and an_admin.login in page.text, page
    no_role = await console.submit(
        page,
        {"login": "nowy.pracownik", "email": "nowy@mpwik.example.pl"},
        action="/operator/pracownicy",
    )
    assert no_role.status == 422 and "Wybierz co najmniej jedną rolę." in no_role.error_summary(), (
        no_role
    )
    made = await console.submit(
        page,
        {"login": "nowy.admin", "email": "nowy.admin@mpwik.example.pl", "role_admin": "1"},
        action="/operator/pracownicy",
    )
    assert made.status == 200 and made.h1 == "Nowy pracownik: nowy.admin", made
    secrets = [s.get_text(strip=True) for s in made.soup.select(".secret")]
    assert len(secrets) == 2 and all(secrets), secrets
    assert made.soup.select_one("svg.qr") is not None
    assert made.headers["Cache-Control"] == "no-store"
    again = await console.get("/operator/pracownicy")
    assert "nowy.admin" in again.text and secrets[0] not in again.text


async def test_an_admin_changes_roles_resets_the_totp_key_and_deactivates_an_operator(
    console: Portal, an_admin: Operator, admin_token: Callable[[], Awaitable[str]], api: Api
) -> None:
    token = await admin_token()
    clerk = await new_operator(api, token, ["customer_service"])
    await console_signed_in(console, an_admin)
    listing = await console.get("/operator/pracownicy")
    page = await console.get(str(one(listing.soup, f"a[href$='/{clerk.login}']")["href"]))
    assert page.status == 200 and page.h1 == f"Pracownik {clerk.login}", page
    assert page.soup.select_one("#role_customer_service[checked]") is not None, page
    no_reason = await console.submit(
        page,
        {"role_customer_service": "1", "role_billing": "1"},
        action=f"/operator/pracownicy/{clerk.login}/role",
    )
    assert no_reason.status == 422 and no_reason.field_error("reason"), no_reason
    changed = await console.submit(
        no_reason,
        {"role_customer_service": "1", "role_billing": "1", "reason": "Zastępstwo w dziale."},
        action=f"/operator/pracownicy/{clerk.login}/role",
    )
    assert f"Zmieniono role pracownika {clerk.login}." in changed.text, changed
    assert "Obsługa klienta, Rozliczenia" in changed.text and an_admin.login in changed.text
    held = expect(await api.get(f"/operator/auth/operators/{clerk.login}", token=token), 200)
    assert sorted(held["roles"]) == ["billing", "customer_service"], held

    reset = await console.submit(
        changed,
        {"totp_reason": "Zgubiony telefon."},
        action=f"/operator/pracownicy/{clerk.login}/totp",
    )
    assert reset.status == 200 and reset.h1 == f"Nowy klucz TOTP: {clerk.login}", reset
    assert reset.soup.select_one("svg.qr") is not None
    assert reset.headers["Cache-Control"] == "no-store"
    secret = one(reset.soup, ".secret").get_text(strip=True).replace(" ", "")
    assert secret and secret != clerk.secret, secret
    # The new key signs in; the old one no longer does.
    old_code = await clerk.code()
    old = {"login": clerk.login, "password": clerk.password, "totp_code": old_code}
    assert (await api.post("/operator/sessions", json=old)).status == 401
    await operator_token(api, Operator(clerk.login, clerk.password, secret))
    assert secret not in (await console.get(f"/operator/pracownicy/{clerk.login}")).text

    page = await console.get(f"/operator/pracownicy/{clerk.login}")
    gone = await console.submit(
        page,
        {"deactivation_reason": "Koniec umowy."},
        action=f"/operator/pracownicy/{clerk.login}/dezaktywacja",
    )
    assert f"Konto pracownika {clerk.login} zostało dezaktywowane." in gone.text, gone
    assert "dezaktywowane" in gone.text and not gone.soup.select("form[action$='/role']")
    again = Operator(clerk.login, clerk.password, secret)
    body = {"login": again.login, "password": again.password, "totp_code": await again.code()}
    assert (await api.post("/operator/sessions", json=body)).status in (401, 403)


async def test_an_admin_looks_at_a_dead_letter_and_re_drives_it(
    console: Portal, an_admin: Operator, stack: Stack, amqp_url: str
) -> None:
    message_id = str(uuid.uuid4())
    queue = Topology(stack.config.bus_prefix).queue("readings")
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        message = aio_pika.Message(b"to nie JSON", message_id=message_id, type="test.malformed")
        await channel.default_exchange.publish(message, routing_key=queue)
    await console_signed_in(console, an_admin)
    listing = await console.get("/operator/martwe-wiadomosci?service=auth")
    assert listing.status == 200 and listing.h1 == "Martwe wiadomości", listing
    for _ in range(40):  # readings refuses it and parks it in its dead-letter queue
        listing = await console.get("/operator/martwe-wiadomosci?service=readings")
        if message_id in listing.text:
            break
        await asyncio.sleep(0.5)
    row = next(r for r in listing.soup.select("tbody tr") if message_id in r.get_text())
    assert "test.malformed" in row.get_text(), row
    parked = await console.get(f"/operator/martwe-wiadomosci/readings/{message_id}")
    assert parked.status == 200 and parked.h1 == f"Martwa wiadomość {message_id}", parked
    assert "to nie JSON" in one(parked.soup, "pre").get_text()
    redriven = await console.submit(
        parked, action=f"/operator/martwe-wiadomosci/readings/{message_id}"
    )
    assert f"Wiadomość {message_id} wróciła do kolejki." in redriven.text, redriven
    # Still malformed: refused and parked again, then all of the queue re-driven at once.
    for _ in range(40):
        again = await console.get("/operator/martwe-wiadomosci?service=readings")
        if message_id in again.text:
            break
        await asyncio.sleep(0.5)
    everything = await console.submit(again, action="/operator/martwe-wiadomosci/readings")
    assert "Do kolejki wróciło wiadomości: 1." in everything.text, everything
    unknown = await console.get(f"/operator/martwe-wiadomosci/readings/{uuid.uuid4()}")
    assert unknown.status == 404
