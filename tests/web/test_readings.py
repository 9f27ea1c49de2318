"""Readings (``/odczyty``) and garden meters (``/wodomierze``) through the portal's pages,
against the whole stack: what a page shows comes from the services, what a form sends
reaches them (checked through the API and the readings database)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from urllib.parse import quote

import pytest
from ebok_shared import db
from ebok_shared.clock import LOCAL_TZ

from tests.e2e.client import Api, expect
from tests.e2e.data import Customer
from tests.e2e.journeys import Session
from tests.e2e.stack import Stack

from .browser import shared_stack  # noqa: F401  (fixture "stack": tests/web's shared one)
from .customers import fresh_customers
from .filling import NOT_A_DOCUMENT, PNG, fill, value_of
from .portal import Portal
from .signed_in import customer_signed_in, onboarded

pytestmark = pytest.mark.timeout(300)


def today() -> dt.date:
    return dt.datetime.now(LOCAL_TZ).date()


def readings_path(customer: Customer) -> str:
    return f"/me/meters/{quote(customer.meter)}/readings"


async def api_readings(api: Api, session: Session, customer: Customer) -> list[dict[str, str]]:
    items: list[dict[str, str]] = expect(
        await api.get(readings_path(customer), token=session.access, params={"page_size": "100"}),
        200,
    )["items"]
    return items


async def readings_in_db(stack: Stack, customer: Customer) -> int:
    conn = await db.connect(stack.database_url("readings"))
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM readings WHERE meter_serial = $1 AND source = 'customer'",
                customer.meter,
            )
        )
    finally:
        await conn.close()


# -- readings ---------------------------------------------------------------------------------


async def test_readings_page_lists_the_meters_and_the_email_link_opens_it(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer, _ = await onboarded(stack, workdir)
    # The e-mail's link, opened before signing in: sign in, then the page itself.
    asked = await portal.get("/odczyty")
    assert asked.path == "/logowanie", asked
    page = await fill(
        portal, asked, {"login": customer.client_number, "password": "Zielona-Kropla-2026"}
    )
    assert page.path == "/odczyty", page
    assert page.status == 200
    assert page.title == "Odczyty wodomierzy – e-BOK MPWiK"
    assert page.h1 == "Odczyty wodomierzy"
    assert customer.meter in page.text and customer.contract_number in page.text
    assert "główny" in page.text and "brak odczytów" in page.text
    assert f"/odczyty/{customer.meter}" in page.links()

    meter = await portal.get(f"/odczyty/{customer.meter}")
    assert meter.status == 200, meter
    assert meter.h1 == f"Wodomierz {customer.meter}"
    assert "Odczyty od dnia zawarcia umowy (1 marca 2021)" in meter.text
    assert value_of(meter, "read_on") == today().isoformat()  # today, ready to send
    assert value_of(meter, "idempotency_key"), "each form carries its idempotency key"


async def test_a_reading_with_a_decimal_comma_appears_in_the_history_and_the_api(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer, session = await customer_signed_in(portal, stack, workdir)
    form = await portal.get(f"/odczyty/{customer.meter}")
    done = await fill(portal, form, {"value": "1 234,5"})
    assert done.path == f"/odczyty/{customer.meter}", done
    assert [s for s, _ in done.history] == [303]
    assert "Odczyt przyjęty." in done.text
    row = done.soup.select("tbody tr")[0].get_text(" ", strip=True)
    assert "1\u00a0234,5\u00a0m³" in row and "przyjęty" in row and "podany przez Ciebie" in row
    assert [
        (r["value"], r["read_on"], r["status"]) for r in await api_readings(api, session, customer)
    ] == [("1234.500", today().isoformat(), "accepted")]
    overview = await portal.get("/odczyty")
    assert "1 234,5 m³" in overview.text  # the last reading on the list (text: plain spaces)


async def test_a_reading_with_a_photo(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer, session = await customer_signed_in(portal, stack, workdir)
    form = await portal.get(f"/odczyty/{customer.meter}")
    done = await fill(
        portal, form, {"value": "42,042"}, files={"photo": ("licznik.png", PNG, "image/png")}
    )
    assert done.path == f"/odczyty/{customer.meter}", done
    assert "ze zdjęciem" in done.soup.select("tbody tr")[0].get_text(" ", strip=True)
    (reading,) = await api_readings(api, session, customer)
    assert (reading["value"], reading["has_photo"]) == ("42.042", True)


async def test_bad_inputs_give_the_summary_and_field_messages_with_the_values_kept(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer, session = await customer_signed_in(portal, stack, workdir)
    form = await portal.get(f"/odczyty/{customer.meter}")
    cases = {
        "": "Podaj stan wodomierza.",
        "dwanaście": "Podaj stan wodomierza liczbą, np. 123,456.",
        "-5": "Stan wodomierza nie może być ujemny.",
        "1,2345": "Podaj stan z dokładnością do 0,001 m³ (najwyżej 3 cyfry po przecinku).",
    }
    for typed, message in cases.items():
        page = await fill(portal, form, {"value": typed})
        assert page.status == 422, page
        assert page.error_summary() == [message], page
        assert page.field_error("value") == message
        assert value_of(page, "value") == typed  # kept as typed
        assert [a["href"] for a in page.soup.select(".error-summary a")] == ["#value"]

    page = await fill(
        portal,
        form,
        {"value": "10", "read_on": "31.02.2026"},
        files={"photo": ("licznik.jpg", NOT_A_DOCUMENT, "image/jpeg")},
    )
    assert page.status == 422, page
    assert page.field_error("read_on").startswith("Podaj datę odczytu w formacie")
    assert page.field_error("photo") == "Zdjęcie musi być plikiem JPEG lub PNG."
    assert value_of(page, "read_on") == "31.02.2026" and value_of(page, "value") == "10"

    # The service's own rule, shown at its field: a register never runs backwards.
    yesterday = (today() - dt.timedelta(days=1)).isoformat()
    expect(
        await api.post(
            readings_path(customer),
            token=session.access,
            json={"value": "100", "read_on": yesterday},
            idempotent=True,
        ),
        201,
    )
    page = await fill(portal, await portal.get(f"/odczyty/{customer.meter}"), {"value": "50"})
    assert page.status == 422, page
    assert "niższy niż poprzedni odczyt" in page.field_error("value"), page
    assert value_of(page, "value") == "50"
    assert await readings_in_db(stack, customer) == 1  # nothing saved by a refused form


async def test_an_unusual_value_asks_for_confirmation_on_a_second_page(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer, session = await customer_signed_in(portal, stack, workdir)
    ten_days_ago = (today() - dt.timedelta(days=10)).isoformat()
    expect(
        await api.post(
            readings_path(customer),
            token=session.access,
            json={"value": "100", "read_on": ten_days_ago},
            idempotent=True,
        ),
        201,
    )
    form = await portal.get(f"/odczyty/{customer.meter}")
    asked = await fill(
        portal, form, {"value": "5000"}, files={"photo": ("licznik.png", PNG, "image/png")}
    )
    assert asked.status == 200, asked
    assert asked.h1 == "Czy na pewno?" and asked.title == "Czy na pewno? – e-BOK MPWiK"
    assert "5 000 m³" in asked.text and "licznik.png" in asked.text
    assert await readings_in_db(stack, customer) == 1  # not saved before it is confirmed

    # "Correct it" brings the form back with the value typed.
    back = await fill(portal, asked, button=("action", "correct"))
    assert back.h1 == f"Wodomierz {customer.meter}", back
    assert value_of(back, "value") == "5000"

    asked = await fill(
        portal, back, {"value": "5000"}, files={"photo": ("licznik.png", PNG, "image/png")}
    )
    assert asked.h1 == "Czy na pewno?", asked
    done = await fill(portal, asked, button=("action", "confirm"))
    assert done.path == f"/odczyty/{customer.meter}", done
    assert "do weryfikacji" in done.text
    row = done.soup.select("tbody tr")[0].get_text(" ", strip=True)
    assert "5\u00a0000\u00a0m³" in row and "do weryfikacji" in row and "ze zdjęciem" in row
    newest = (await api_readings(api, session, customer))[0]
    assert (newest["value"], newest["status"], newest["unusual"], newest["has_photo"]) == (
        "5000.000",
        "to_verify",
        True,
        True,
    )


async def test_a_double_submit_with_the_same_key_saves_one_reading(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer, session = await customer_signed_in(portal, stack, workdir)
    form = await portal.get(f"/odczyty/{customer.meter}")
    # Pressed twice at once (the same form, the same key), with a photo: one reading.
    first, second = await asyncio.gather(
        fill(portal, form, {"value": "77,7"}, files={"photo": ("a.png", PNG, "image/png")}),
        fill(portal, form, {"value": "77,7"}, files={"photo": ("a.png", PNG, "image/png")}),
    )
    assert first.path == second.path == f"/odczyty/{customer.meter}", (first, second)
    # And once more later (the browser's "send again"): still one.
    again = await fill(
        portal, form, {"value": "77,7"}, files={"photo": ("a.png", PNG, "image/png")}
    )
    assert again.path == f"/odczyty/{customer.meter}", again
    assert await readings_in_db(stack, customer) == 1
    assert [r["value"] for r in await api_readings(api, session, customer)] == ["77.700"]
    # A new form is a new key.
    fresh = await portal.get(f"/odczyty/{customer.meter}")
    assert value_of(fresh, "idempotency_key") != value_of(form, "idempotency_key")


async def test_a_closed_reading_window_and_an_unknown_meter_are_said_plainly(
    portal: Portal, stack: Stack, api: Api, workdir: Path, operator: Session
) -> None:
    customer, _session = await customer_signed_in(portal, stack, workdir)
    form = await portal.get(f"/odczyty/{customer.meter}")
    opens, closes = today() + dt.timedelta(days=20), today() + dt.timedelta(days=25)
    windows = {"mode": "windows", "windows": [{"opens_on": f"{opens}", "closes_on": f"{closes}"}]}
    expect(
        await api.put("/operator/readings/reading-windows", token=operator.access, json=windows),
        200,
    )
    try:
        page = await portal.get("/odczyty")
        assert "Teraz nie przyjmujemy odczytów" in page.text, page
        assert f"Odczyt podasz od {opens.day}" in page.text
        meter = await portal.get(f"/odczyty/{customer.meter}")
        assert "Teraz nie przyjmujemy odczytów" in meter.text
        assert not meter.soup.find(id="value"), "no form while the window is closed"
        # A form opened before the window closed: the service's reason, in Polish.
        refused = await fill(portal, form, {"value": "12"})
        assert refused.status == 422, refused
        assert any("Odczyty przyjmujemy tylko" in s for s in refused.error_summary()), refused
        assert await readings_in_db(stack, customer) == 0
    finally:
        expect(
            await api.put(
                "/operator/readings/reading-windows",
                token=operator.access,
                json={"mode": "always"},
            ),
            200,
        )

    for serial in ("WM-000000-9", "wm-lowercase"):
        unknown = await portal.get(f"/odczyty/{serial}")
        assert unknown.status == 404, unknown
    unknown = await portal.get("/odczyty/WM-000000-9")
    assert unknown.h1 == "Nie znaleziono wodomierza"
    assert "WM-000000-9" in unknown.text
    # Another customer's meter is as unknown as one that does not exist.
    (other,) = await fresh_customers(stack, workdir)
    foreign = await portal.get(f"/odczyty/{other.meter}")
    assert foreign.status == 404 and foreign.h1 == "Nie znaleziono wodomierza", foreign
    token = value_of(form, "csrf")
    posted = await portal.post(f"/odczyty/{other.meter}", {"csrf": token, "value": "12"})
    assert posted.status == 404, posted


# -- garden meters ----------------------------------------------------------------------------


async def _accept(api: Api, operator: Session, request_id: str) -> None:
    expect(
        await api.post(
            f"/operator/readings/garden-meter-requests/{request_id}/decision",
            token=operator.access,
            json={"decision": "accept"},
        ),
        200,
    )


async def test_garden_meter_requests_of_each_kind(
    portal: Portal, stack: Stack, api: Api, workdir: Path, operator: Session
) -> None:
    customer, session = await customer_signed_in(portal, stack, workdir)
    page = await portal.get("/wodomierze")
    assert page.status == 200, page
    assert page.title == "Wodomierze ogrodowe – e-BOK MPWiK" and page.h1 == "Wodomierze ogrodowe"
    assert "Nie masz zarejestrowanego wodomierza ogrodowego." in page.text
    assert "Nie masz jeszcze żadnych zgłoszeń." in page.text
    assert "/wodomierze/montaz" in page.links() and "/wodomierze/wymiana" not in page.links()

    # Installation: bad inputs first, then two meters (one with a photo of its seal).
    form = await portal.get("/wodomierze/montaz")
    assert form.h1 == "Zgłoszenie montażu wodomierza ogrodowego", form
    bad = await fill(
        portal, form, {"new_serial": "", "seal_number": "", "initial_value": "abc", "done_on": ""}
    )
    assert bad.status == 422, bad
    assert bad.field_error("new_serial") == "Podaj numer wodomierza."
    assert bad.field_error("seal_number") == "Podaj numer plomby."
    assert bad.field_error("initial_value") == "Podaj stan wodomierza liczbą, np. 123,456."
    assert bad.field_error("done_on") == "Podaj datę montażu."
    assert len(bad.error_summary()) == 4 and value_of(bad, "initial_value") == "abc"

    first, second = f"WG-{customer.client_number}-1", f"WG-{customer.client_number}-2"
    for serial, files in ((first, {"photo": ("plomba.png", PNG, "image/png")}), (second, None)):
        sent = await fill(
            portal,
            await portal.get("/wodomierze/montaz"),
            {
                "new_serial": serial.lower(),  # typed in small letters: taken as capitals
                "seal_number": "PL-2026/001",
                "initial_value": "0,002",
                "done_on": today().isoformat(),
            },
            files=files,
        )
        assert sent.path == "/wodomierze", sent
        assert "Zgłoszenie przekazano do rozpatrzenia" in sent.text
    mine = expect(await api.get("/me/garden-meter-requests", token=session.access), 200)["items"]
    assert {(r["kind"], r["new_serial"], r["status"]) for r in mine} == {
        ("installation", first, "submitted"),
        ("installation", second, "submitted"),
    }
    assert {r["new_serial"]: r["has_photo"] for r in mine} == {first: True, second: False}
    # The service's own refusal at its field: a meter already waiting for a decision.
    dup = await fill(
        portal,
        await portal.get("/wodomierze/montaz"),
        {
            "new_serial": first,
            "seal_number": "PL-2026/002",
            "initial_value": "0",
            "done_on": today().isoformat(),
        },
    )
    assert dup.status == 422 and "czeka na rozpatrzenie" in dup.field_error("new_serial"), dup
    for r in mine:
        await _accept(api, operator, r["id"])

    page = await portal.get("/wodomierze")
    legal_until = today().replace(year=today().year + 5)
    assert f"Wodomierz {first}" in page.text and "Legalizacja ważna do" in page.text, page
    assert str(legal_until.year) in page.text and "Obowiązkowe odczyty" in page.text
    assert {"/wodomierze/wymiana", "/wodomierze/demontaz"} <= set(page.links())

    replaced = await fill(
        portal,
        await portal.get("/wodomierze/wymiana"),
        {
            "old_serial": first,
            "final_value": "0,002",
            "new_serial": f"WG-{customer.client_number}-3",
            "seal_number": "PL-2026/003",
            "initial_value": "0",
            "done_on": today().isoformat(),
        },
    )
    assert replaced.path == "/wodomierze", replaced
    removal_form = await portal.get("/wodomierze/demontaz")
    low = await fill(
        portal, removal_form, {"old_serial": second, "final_value": "0,001", "done_on": ""}
    )
    assert low.status == 422 and low.field_error("done_on") == "Podaj datę demontażu.", low
    removed = await fill(
        portal,
        removal_form,
        {"old_serial": second, "final_value": "0,5", "done_on": today().isoformat()},
    )
    assert removed.path == "/wodomierze", removed
    mine = expect(await api.get("/me/garden-meter-requests", token=session.access), 200)["items"]
    assert sorted((r["kind"], r["status"]) for r in mine) == [
        ("installation", "accepted"),
        ("installation", "accepted"),
        ("removal", "submitted"),
        ("replacement", "submitted"),
    ]
    page = await portal.get("/wodomierze")
    for text in ("Wymiana z dnia", "Demontaż z dnia", "przyjęte", "czeka na rozpatrzenie"):
        assert text in page.text, text
    assert len(page.soup.select("section.card ol li")) == 6  # 2×(submitted, accepted) + 2


async def test_the_garden_page_is_the_email_link_and_an_unknown_kind_is_404(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer, _ = await onboarded(stack, workdir)
    asked = await portal.get("/wodomierze")
    assert asked.path == "/logowanie", asked
    page = await fill(
        portal, asked, {"login": customer.client_number, "password": "Zielona-Kropla-2026"}
    )
    assert page.path == "/wodomierze" and page.h1 == "Wodomierze ogrodowe", page
    no_meter = await portal.get("/wodomierze/wymiana")
    assert "Nie masz zamontowanego wodomierza ogrodowego" in no_meter.text, no_meter
    assert not no_meter.soup.find(id="old_serial")
    assert (await portal.get("/wodomierze/przeniesienie")).status == 404


async def test_the_history_is_paged_since_the_contract_date(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer, session = await customer_signed_in(portal, stack, workdir)
    for days_ago in range(12, 0, -1):
        expect(
            await api.post(
                readings_path(customer),
                token=session.access,
                json={
                    "value": f"{100 - days_ago}",
                    "read_on": (today() - dt.timedelta(days=days_ago)).isoformat(),
                },
                idempotent=True,
            ),
            201,
        )
    first = await portal.get(f"/odczyty/{customer.meter}")
    assert len(first.soup.select("tbody tr")) == 10, first
    assert "Strona 1 z 2" in first.text
    newest = first.soup.select("tbody tr")[0].get_text(" ", strip=True)
    assert "99\u00a0m³" in newest and "1\u00a0m³" in newest, newest  # 1 m³ a day
    assert f"/odczyty/{customer.meter}?page=2" in first.links()
    second = await portal.get(f"/odczyty/{customer.meter}?page=2")
    rows = [r.get_text(" ", strip=True) for r in second.soup.select("tbody tr")]
    assert len(rows) == 2 and "88\u00a0m³" in rows[-1], rows
    assert "Strona 2 z 2" in second.text and f"/odczyty/{customer.meter}?page=1" in second.links()


async def test_a_stopped_readings_service_leaves_the_pages_standing(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer, _ = await customer_signed_in(portal, stack, workdir)
    await stack.stop_service("readings")
    try:
        for path, h1 in (
            ("/odczyty", "Odczyty wodomierzy"),
            (f"/odczyty/{customer.meter}", f"Wodomierz {customer.meter}"),
            ("/wodomierze", "Wodomierze ogrodowe"),
        ):
            page = await portal.get(path)
            assert page.status == 200 and page.h1 == h1, page
            assert "chwilowo niedostępne" in page.text, page
    finally:
        await stack.start_service("readings")
