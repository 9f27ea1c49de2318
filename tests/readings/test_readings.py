"""Submitting readings: the checks, each a Polish problem; one customer reading per meter and
day; plausibility with confirmation and the operator's verification; leaks; photos;
idempotency; reading windows; the history since the contract date."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

from ebok_readings import events

from tests.readings.harness import JPEG, PNG, TODAY, Readings, freeze, seed_history
from tests.support.answers import fields_of, problem

DAY = dt.timedelta(days=1)


async def test_a_reading_is_recorded_listed_and_published(readings: Readings) -> None:
    await readings.conclude()
    response = await readings.submit(value="12.345", read_on=TODAY - DAY)
    assert response.status == 201
    body = await response.json()
    assert (body["value"], body["read_on"], body["status"], body["source"]) == (
        "12.345",
        "2026-03-09",
        "accepted",
        "customer",
    )

    meters = await (
        await readings.client.get("/me/meters", headers=readings.issuer.customer())
    ).json()
    assert [
        (m["serial"], m["kind"], m["status"], m["last_reading"]["value"]) for m in meters["items"]
    ] == [("WM-100001-1", "main", "installed", "12.345")]
    assert meters["reading_window"]["open"] is True

    history = await readings.client.get(
        "/me/meters/WM-100001-1/readings", headers=readings.issuer.customer()
    )
    listed = await history.json()
    assert (listed["total"], listed["since"], [r["id"] for r in listed["items"]]) == (
        1,
        "2024-01-15",
        [body["id"]],
    )

    [event] = await readings.tap.wait_for(events.READING_ACCEPTED)
    assert event.payload == {
        "reading_id": body["id"],
        "meter_serial": "WM-100001-1",
        "contract_number": "U/100001/2024",
        "client_number": "100001",
        "value": "12.345",
        "read_on": "2026-03-09",
        "kind": "main",
    }


async def test_bad_input_is_refused_naming_the_field_and_reason(readings: Readings) -> None:
    await readings.conclude()
    cases = [
        (
            {"value": "12.34567", "read_on": "2026-03-01"},
            422,
            {"value": "najwyżej 3 cyfry po przecinku (dokładność do 0,001 m³)"},
        ),
        (
            {"value": "-3.000", "read_on": "2026-03-01"},
            422,
            {"value": "stan wodomierza nie może być ujemny"},
        ),
        (
            {"value": "dwanaście", "read_on": "2026-03-01"},
            422,
            {"value": "to nie jest liczba (podaj stan w m³, np. 123.456)"},
        ),
        (
            {"value": 12.5, "read_on": "2026-03-01"},
            422,
            {"value": "nieprawidłowy typ (oczekiwano: tekst)"},
        ),
        (
            {"value": "12.000", "read_on": "2999-01-01"},
            422,
            {"read_on": "data odczytu nie może być z przyszłości"},
        ),
        ({"value": "12.000", "read_on": "2026-02-30"}, 422, {"read_on": "taka data nie istnieje"}),
        (
            {"value": "12.000", "read_on": "2023-12-31"},
            422,
            {"read_on": "data jest wcześniejsza niż data zawarcia umowy (15.01.2024)"},
        ),
        (
            {"read_on": "2026-03-01", "extra": 1},
            422,
            {"value": "pole jest wymagane", "extra": "nieznane pole"},
        ),
        (
            {"value": "1.5e3", "read_on": "01.03.2026"},
            422,
            {
                "value": "to nie jest liczba (podaj stan w m³, np. 123.456)",
                "read_on": "nieprawidłowa data (oczekiwano RRRR-MM-DD)",
            },
        ),
    ]
    url = "/me/meters/WM-100001-1/readings"
    for body, status, expected in cases:
        refused = await problem(
            await readings.client.post(url, json=body, headers=readings.issuer.customer()), status
        )
        assert fields_of(refused) == expected, body
    bad_json = await readings.client.post(
        url,
        data=b"{not json",
        headers={**readings.issuer.customer(), "Content-Type": "application/json"},
    )
    assert fields_of(await problem(bad_json, 400)) == {
        "(body)": "niepoprawny JSON (wiersz 1, kolumna 2)"
    }
    too_big = await readings.client.post(
        url,
        data=b"{" + b" " * 70_000 + b"}",
        headers={**readings.issuer.customer(), "Content-Type": "application/json"},
    )
    assert fields_of(await problem(too_big, 413)) == {"(body)": "rozmiar przekracza 64 KB"}
    bad_serial = await readings.submit(serial="wm 1")
    assert fields_of(await problem(bad_serial, 400))["serial"].startswith("nieprawidłowy numer")
    assert await readings.readings_of("WM-100001-1") == []


async def test_value_order_and_meter_state_are_checked(readings: Readings) -> None:
    await readings.conclude(serials=("WM-100001-1", "WM-100001-2"))
    await seed_history(
        readings,
        "WM-100001-1",
        [(dt.date(2026, 2, 1), "500.000"), (dt.date(2026, 3, 1), "510.000")],
    )
    below = await problem(await readings.submit(value="509.999"), 422)
    assert below["code"] == "reading-below-previous"
    assert fields_of(below) == {
        "value": "stan 509,999 m³ jest niższy niż poprzedni odczyt 510,000 m³ z dnia 01.03.2026"
    }
    between = await problem(await readings.submit(value="511.000", read_on="2026-02-15"), 422)
    assert between["code"] == "reading-above-next"
    assert (await readings.submit(value="505.000", read_on="2026-02-15")).status == 201

    unknown = await problem(await readings.submit(serial="WM-999999-9"), 404)
    assert unknown["code"] == "meter-not-found"

    removal = "action,serial,date,final_value\nremove,WM-100001-2,2026-03-05,20.000\n"
    assert (await readings.feed("meters", removal)).status == 201
    removed = await problem(await readings.submit(serial="WM-100001-2", value="21.000"), 409)
    assert removed["code"] == "meter-removed"
    assert "zdemontowany 05.03.2026" in removed["detail"]


async def test_a_second_reading_of_the_day_replaces_the_first_until_billed(
    readings: Readings,
) -> None:
    await readings.conclude()
    first = await (await readings.submit(value="100.000")).json()
    second = await (await readings.submit(value="100.500")).json()
    assert second["id"] != first["id"]
    listed = await (
        await readings.client.get(
            "/me/meters/WM-100001-1/readings", headers=readings.issuer.customer()
        )
    ).json()
    assert [r["value"] for r in listed["items"]] == ["100.500"]
    rows = await readings.readings_of("WM-100001-1")
    assert [(str(r["id"]), r["superseded_by"] is not None) for r in rows] == [
        (first["id"], True),
        (second["id"], False),
    ]
    # Billing's consumer takes the later reading of a day; both went out as accepted.
    await readings.tap.wait_for(events.READING_ACCEPTED, count=2)

    await readings.apply(
        events.INVOICE_ISSUED,
        {
            "invoice_number": "10000126030001",
            "client_number": "100001",
            "issue_date": "2026-03-10",
            "due_date": "2026-03-24",
            "net": "10.00",
            "vat": "0.80",
            "gross": "10.80",
            "ksef_number": None,
            "delivery": "paper",
            "e_invoice_email": None,
        },
    )
    billed = await problem(await readings.submit(value="101.000"), 409)
    assert billed["code"] == "reading-already-billed"
    assert fields_of(billed) == {"read_on": "odczyt z tego dnia jest już rozliczony"}


async def test_unusual_consumption_needs_confirmation_and_an_operators_verification(
    readings: Readings,
) -> None:
    await readings.conclude()
    await seed_history(
        readings,
        "WM-100001-1",
        [(dt.date(2025, 3, 1), "100.000"), (dt.date(2026, 3, 1), "209.500")],
    )
    # 0.3 m³ a day so far; 20 m³ in 9 days is over 2 m³ a day.
    refused = await problem(await readings.submit(value="229.500"), 422)
    assert refused["code"] == "unusual-consumption"
    assert (refused["daily_consumption"], refused["baseline_daily"]) == ("2.222", "0.300")
    assert "confirm_unusual" in fields_of(refused)["value"]

    confirmed = await readings.submit(value="229.500", confirm=True)
    assert confirmed.status == 201
    waiting = await confirmed.json()
    assert (waiting["status"], waiting["unusual"]) == ("to_verify", True)
    [to_verify] = await readings.tap.wait_for(events.READING_TO_VERIFY)
    assert to_verify.payload["daily_consumption"] == "2.222"

    queue = await (
        await readings.client.get(
            "/operator/readings?status=to_verify", headers=readings.issuer.operator()
        )
    ).json()
    assert [r["id"] for r in queue["items"]] == [waiting["id"]]
    counts = await readings.client.get("/operator/queue-counts", headers=readings.issuer.operator())
    assert await counts.json() == {"readings_to_verify": 1, "garden_meter_requests": 0}
    url = f"/operator/readings/{waiting['id']}/decision"
    no_reason = await readings.client.post(
        url, json={"decision": "reject"}, headers=readings.issuer.operator()
    )
    assert fields_of(await problem(no_reason, 422)) == {"reason": "powód odrzucenia jest wymagany"}
    accepted = await readings.client.post(
        url, json={"decision": "accept"}, headers=readings.issuer.operator()
    )
    assert (await accepted.json())["status"] == "accepted"
    counts = await readings.client.get("/operator/queue-counts", headers=readings.issuer.operator())
    assert (await counts.json())["readings_to_verify"] == 0
    await readings.tap.wait_for(events.READING_ACCEPTED, reading_id=waiting["id"])
    again = await readings.client.post(
        url, json={"decision": "accept"}, headers=readings.issuer.operator()
    )
    assert (await problem(again, 409))["code"] == "reading-not-waiting"

    # Another one, rejected: the customer sees why.
    freeze(TODAY + DAY)
    other = await (await readings.submit(value="260.000", read_on=TODAY + DAY, confirm=True)).json()
    rejected = await readings.client.post(
        f"/operator/readings/{other['id']}/decision",
        json={"decision": "reject", "reason": "Zdjęcie nie potwierdza stanu."},
        headers=readings.issuer.operator(),
    )
    assert (await rejected.json())["status"] == "rejected"
    [event] = await readings.tap.wait_for(events.READING_REJECTED)
    assert event.payload["reason"] == "Zdjęcie nie potwierdza stanu."
    listed = await (
        await readings.client.get(
            "/me/meters/WM-100001-1/readings", headers=readings.issuer.customer()
        )
    ).json()
    assert listed["items"][0]["status"] == "rejected"
    assert listed["items"][0]["decision_reason"] == "Zdjęcie nie potwierdza stanu."
    # The meter says so too (for the dashboard's notice): its last customer reading.
    meters = await (
        await readings.client.get("/me/meters", headers=readings.issuer.customer())
    ).json()
    [main] = [m for m in meters["items"] if m["serial"] == "WM-100001-1"]
    assert main["last_submitted"] == {
        "id": other["id"],
        "read_on": (TODAY + DAY).isoformat(),
        "status": "rejected",
        "decision_reason": "Zdjęcie nie potwierdza stanu.",
    }

    # A waiting reading replaced the same day by a plausible one leaves the queue.
    freeze(TODAY + 2 * DAY)
    day = TODAY + 2 * DAY
    doubtful = await readings.submit(value="300.000", read_on=day, confirm=True)
    assert (await doubtful.json())["status"] == "to_verify"
    corrected = await readings.submit(value="230.100", read_on=day)
    assert (await corrected.json())["status"] == "accepted"
    queue = await (
        await readings.client.get("/operator/readings", headers=readings.issuer.operator())
    ).json()
    assert queue["total"] == 0


async def test_a_possible_leak_is_published(readings: Readings) -> None:
    await readings.conclude()
    await seed_history(
        readings,
        "WM-100001-1",
        [(dt.date(2025, 3, 1), "100.000"), (dt.date(2026, 3, 1), "209.500")],
    )
    calm = await readings.submit(value="212.000", read_on="2026-03-08")  # 0.357 a day
    assert calm.status == 201
    usual = await readings.submit(value="212.800", read_on=TODAY)  # 0.4 a day
    assert (await usual.json())["status"] == "accepted"
    freeze(TODAY + 4 * DAY)
    high = await (await readings.submit(value="216.000", read_on=TODAY + 4 * DAY)).json()
    assert high["status"] == "accepted"  # 0.8 m³ a day: plausible, but over twice the usual
    [leak] = await readings.tap.wait_for(events.LEAK_SUSPECTED)
    assert leak.payload == {
        "reading_id": high["id"],
        "client_number": "100001",
        "contract_number": "U/100001/2024",
        "meter_serial": "WM-100001-1",
        "read_on": "2026-03-14",
        "value": "216.000",
        "daily_consumption": "0.800",
        "baseline_daily": "0.302",
    }
    await readings.settled()
    assert len(readings.tap.of(events.LEAK_SUSPECTED)) == 1
    meters = await (
        await readings.client.get("/me/meters", headers=readings.issuer.customer())
    ).json()
    [main] = [m for m in meters["items"] if m["serial"] == "WM-100001-1"]
    assert main["last_reading"]["leak_suspected"] is True  # the dashboard's notice


async def test_a_retried_request_creates_one_reading(readings: Readings) -> None:
    await readings.conclude()
    key = {"Idempotency-Key": "odczyt-2026-03-10-a"}
    answers = await asyncio.gather(
        *(readings.submit(value="42.000", headers=key) for _ in range(3))
    )
    created = [await a.json() for a in answers if a.status == 201]
    assert created and all(a.status in (201, 409) for a in answers)
    # The shared store forgot the key (its lease ran out): the reading keeps it too.
    await readings.pool.execute("DELETE FROM idempotency_keys")
    again = await readings.submit(value="42.000", headers=key)
    assert again.status == 201 and (await again.json())["id"] == created[0]["id"]
    assert len(await readings.readings_of("WM-100001-1")) == 1
    await readings.settled()
    assert len(readings.tap.of(events.READING_ACCEPTED)) == 1


async def test_a_photo_is_kept_as_evidence_and_judged_from_its_bytes(readings: Readings) -> None:
    await readings.conclude()
    sent = await readings.submit(value="10.000", photo=(PNG, "licznik.png"))
    assert sent.status == 201
    body = await sent.json()
    assert body["has_photo"] is True
    history = await (
        await readings.client.get(
            "/operator/meters/WM-100001-1", headers=readings.issuer.operator()
        )
    ).json()
    photo_id = history["readings"][0]["photo_id"]
    photo = await readings.client.get(
        f"/operator/photos/{photo_id}", headers=readings.issuer.operator()
    )
    assert (photo.content_type, await photo.read()) == ("image/png", PNG)
    # The customer's own photo, for the data export (issue 14.7); another's is not found.
    export = await (
        await readings.client.get("/me/export", headers=readings.issuer.customer())
    ).json()
    [listed] = export["photos"]
    assert listed["id"] == photo_id and listed["path"] == f"/me/photos/{photo_id}"
    own = await readings.client.get(listed["path"], headers=readings.issuer.customer())
    assert (own.status, own.content_type, await own.read()) == (200, "image/png", PNG)
    theirs = await readings.client.get(listed["path"], headers=readings.issuer.customer("100002"))
    assert theirs.status == 404

    jpeg = await readings.submit(value="10.100", photo=(JPEG, "zdjecie.png"))
    assert jpeg.status == 201  # named .png, sent as image/png: the bytes say JPEG
    assert (
        await readings.pool.fetchval(
            "SELECT count(*) FROM photos WHERE content_type = 'image/jpeg'"
        )
        == 1
    )

    gif = await readings.submit(value="10.200", photo=(b"GIF89a" + b"\x00" * 10, "a.png"))
    assert fields_of(await problem(gif, 422)) == {"photo": "zdjęcie musi być plikiem JPEG lub PNG"}
    huge = await readings.submit(
        value="10.200", photo=(PNG + b"\x00" * (10 * 1024 * 1024), "a.png")
    )
    assert fields_of(await problem(huge, 413)) == {"photo": "rozmiar przekracza 10 MB"}
    wrong_value = await readings.submit(value="10,2345", photo=(PNG, "a.png"))
    assert fields_of(await problem(wrong_value, 422)) == {
        "value": "najwyżej 3 cyfry po przecinku (dokładność do 0,001 m³)"
    }
    text = await readings.client.post(
        "/me/meters/WM-100001-1/readings",
        data=b"value=1",
        headers={**readings.issuer.customer(), "Content-Type": "text/plain"},
    )
    assert (await problem(text, 415))["code"] == "unsupported-media-type"
    form = await readings.client.post(  # a form without a file
        "/me/meters/WM-100001-1/readings",
        data={"value": "10.300", "read_on": "2026-03-10"},
        headers=readings.issuer.customer(),
    )
    assert (await form.json())["value"] == "10.300"
    assert await readings.pool.fetchval("SELECT count(*) FROM photos") == 2


async def test_reading_windows_set_by_an_operator(readings: Readings) -> None:
    await readings.conclude()
    windows = {
        "mode": "windows",
        "windows": [
            {"opens_on": "2026-03-25", "closes_on": "2026-03-31"},
            {"opens_on": "2026-06-25", "closes_on": "2026-06-30"},
        ],
    }
    put = await readings.client.put(
        "/operator/reading-windows", json=windows, headers=readings.issuer.operator()
    )
    assert put.status == 200
    closed = await problem(await readings.submit(value="5.000"), 409)
    assert (closed["code"], closed["next_window_opens_on"]) == (
        "reading-window-closed",
        "2026-03-25",
    )
    assert "Najbliższy okres trwa od 25.03.2026 do 31.03.2026" in closed["detail"]
    meters = await (
        await readings.client.get("/me/meters", headers=readings.issuer.customer())
    ).json()
    assert meters["reading_window"] == {
        "open": False,
        "always_open": False,
        "closes_on": None,
        "next_opens_on": "2026-03-25",
        "next_closes_on": "2026-03-31",
    }
    freeze(dt.date(2026, 3, 27))
    # The meters and the windows come in one statement: a client without meters still gets
    # the window of the day, and the meters their order (installed first).
    for client, serials in (("100001", ["WM-100001-1"]), ("100777", [])):
        meters = await (
            await readings.client.get("/me/meters", headers=readings.issuer.customer(client))
        ).json()
        assert [m["serial"] for m in meters["items"]] == serials
        assert meters["reading_window"] == {
            "open": True,
            "always_open": False,
            "closes_on": "2026-03-31",
            "next_opens_on": "2026-06-25",
            "next_closes_on": "2026-06-30",
        }
    assert (await readings.submit(value="5.000", read_on="2026-03-27")).status == 201

    overlapping = await readings.client.put(
        "/operator/reading-windows",
        json={
            "mode": "windows",
            "windows": [
                {"opens_on": "2026-04-01", "closes_on": "2026-04-10"},
                {"opens_on": "2026-04-10", "closes_on": "2026-04-12"},
            ],
        },
        headers=readings.issuer.operator(),
    )
    assert fields_of(await problem(overlapping, 422)) == {"windows.1": "okres nachodzi na okres 0"}
    reopened = await readings.client.put(
        "/operator/reading-windows", json={"mode": "always"}, headers=readings.issuer.operator()
    )
    assert (await reopened.json())["today"]["always_open"] is True
    # The mode is read with the meter's lock: the next reading sees "always" at once.
    assert (await readings.submit(value="6.000", read_on="2026-03-27")).status == 201


async def test_history_is_paged_and_starts_at_the_contract_date(readings: Readings) -> None:
    await readings.conclude(
        contract="U/100001/2024", client="100001", concluded_on=dt.date(2025, 1, 1)
    )
    await seed_history(
        readings,
        "WM-100001-1",
        [(dt.date(2025, 1, 1) + dt.timedelta(days=30 * i), f"{100 + i}.000") for i in range(5)],
    )
    # A new owner of the supply point: the meter now serves client 200002's contract.
    await readings.apply(
        events.CONTRACT_TERMINATED,
        {
            "contract_number": "U/100001/2024",
            "client_number": "100001",
            "terminated_on": "2025-06-30",
            "active_contracts_left": 0,
        },
    )
    await readings.conclude(
        contract="U/200002/2025", client="200002", concluded_on=dt.date(2025, 7, 1)
    )
    await seed_history(readings, "WM-100001-1", [(dt.date(2025, 8, 1), "110.000")])

    new_owner = readings.issuer.customer("200002")
    first = await (
        await readings.client.get("/me/meters/WM-100001-1/readings?page_size=1", headers=new_owner)
    ).json()
    assert (first["total"], first["pages"], first["since"]) == (1, 1, "2025-07-01")
    assert [r["value"] for r in first["items"]] == ["110.000"]
    old_owner = await readings.client.get(
        "/me/meters/WM-100001-1/readings", headers=readings.issuer.customer("100001")
    )
    assert (await problem(old_owner, 404))["code"] == "meter-not-found"

    too_many = await readings.client.get(
        "/me/meters/WM-100001-1/readings?page_size=101", headers=new_owner
    )
    assert fields_of(await problem(too_many, 400)) == {"page_size": "liczba całkowita od 1 do 100"}
    page_two = await (
        await readings.client.get(
            "/me/meters/WM-100001-1/readings?page=2&page_size=1", headers=new_owner
        )
    ).json()
    assert page_two["items"] == []
    assert page_two["total"] == 1  # past the end: the count is asked on its own
    assert json.dumps(page_two)  # a plain JSON page
