"""A customer touches only their own client's meters, on every customer endpoint; operator
endpoints are for operators only."""

from __future__ import annotations

import datetime as dt

from aiohttp import FormData

from tests.readings.harness import PNG, Readings, seed_history
from tests.support.answers import fields_of, problem

MINE, THEIRS = "100001", "200002"
MY_METER, THEIR_METER = "WM-100001-1", "WM-200002-1"


async def test_a_customer_reaches_only_their_own_clients_meters(readings: Readings) -> None:
    await readings.conclude("U/100001/2024", MINE, serials=(MY_METER,))
    await readings.conclude("U/200002/2024", THEIRS, serials=(THEIR_METER,))
    await seed_history(readings, THEIR_METER, [(dt.date(2026, 3, 1), "77.000")])
    await readings.feed(
        "meters",
        "action,serial,kind,contract_number,date,initial_value,"
        "seal_number\ninstall,OG-200002-1,garden,U/200002/2024,"
        "2025-05-01,0.000,PL-9\n",
    )
    me = readings.issuer.customer(MINE)

    # Their meter in the path: not found, whatever the method, with or without a photo.
    listed = await readings.client.get(f"/me/meters/{THEIR_METER}/readings", headers=me)
    assert (await problem(listed, 404))["code"] == "meter-not-found"
    submitted = await readings.submit(serial=THEIR_METER, value="80.000", client=MINE)
    assert (await problem(submitted, 404))["code"] == "meter-not-found"
    with_photo = await readings.submit(
        serial=THEIR_METER, value="80.000", client=MINE, photo=(PNG, "a.png")
    )
    assert (await problem(with_photo, 404))["code"] == "meter-not-found"
    keyed = await readings.submit(
        serial=THEIR_METER, value="80.000", client=MINE, headers={"Idempotency-Key": "k-1"}
    )
    assert keyed.status == 404
    # Their meter in a body: refused as unknown, the same as a meter that does not exist.
    for old in ("OG-200002-1", "OG-999999-9"):
        request = await readings.client.post(
            "/me/garden-meter-requests",
            headers=me,
            json={
                "kind": "removal",
                "done_on": "2026-03-05",
                "old_serial": old,
                "final_value": "9.000",
            },
        )
        assert fields_of(await problem(request, 422)) == {
            "old_serial": "nie znaleziono takiego wodomierza wśród Twoich umów"
        }
    form = FormData()
    for name, value in {
        "kind": "installation",
        "done_on": "2026-03-05",
        "new_serial": "OG-1",
        "initial_value": "0",
        "seal_number": "P1",
        "contract_number": "U/200002/2024",
    }.items():
        form.add_field(name, value)
    foreign_contract = await readings.client.post(
        "/me/garden-meter-requests", headers=me, data=form
    )
    assert fields_of(await problem(foreign_contract, 422)) == {
        "contract_number": "nie znaleziono takiej umowy wśród Twoich umów"
    }
    consumption = await readings.client.get(
        "/me/consumption?contract_number=U/200002/2024", headers=me
    )
    assert (await problem(consumption, 404))["code"] == "contract-not-found"

    # Lists and the export show nothing of theirs.
    meters = await (await readings.client.get("/me/meters", headers=me)).json()
    assert [m["serial"] for m in meters["items"]] == [MY_METER]
    mine = await (await readings.client.get("/me/consumption", headers=me)).json()
    assert mine["total_water_m3"] == "0.000"
    requests = await (await readings.client.get("/me/garden-meter-requests", headers=me)).json()
    assert requests["total"] == 0
    export = await (await readings.client.get("/me/export", headers=me)).json()
    assert [m["serial"] for m in export["meters"]] == [MY_METER]
    assert export["readings"] == [] and export["photos"] == []
    assert THEIRS not in str(export)
    # Nothing of theirs changed.
    assert [str(r["value"]) for r in await readings.readings_of(THEIR_METER)] == ["77.000"]
    assert await readings.pool.fetchval("SELECT count(*) FROM photos") == 0
    # They still see their own.
    theirs = await (
        await readings.client.get(
            f"/me/meters/{THEIR_METER}/readings", headers=readings.issuer.customer(THEIRS)
        )
    ).json()
    assert [r["value"] for r in theirs["items"]] == ["77.000"]


async def test_operator_and_customer_endpoints_are_apart(readings: Readings) -> None:
    await readings.conclude()
    customer, operator = readings.issuer.customer(), readings.issuer.operator()
    operator_routes = [
        ("GET", "/operator/readings"),
        ("GET", "/operator/garden-meter-requests"),
        ("GET", f"/operator/meters/{MY_METER}"),
        ("GET", "/operator/reading-windows"),
        ("PUT", "/operator/reading-windows"),
        ("POST", "/operator/feed/readings"),
        ("POST", "/operator/feed/meters"),
        ("POST", "/operator/readings/7d0f3a52-6c1e-4b7a-9a43-2f6e8b1c5d90/decision"),
        ("POST", "/operator/garden-meter-requests/7d0f3a52-6c1e-4b7a-9a43-2f6e8b1c5d90/decision"),
        ("GET", "/operator/photos/7d0f3a52-6c1e-4b7a-9a43-2f6e8b1c5d90"),
    ]
    customer_routes = [
        ("GET", "/me/meters"),
        ("GET", f"/me/meters/{MY_METER}/readings"),
        ("POST", f"/me/meters/{MY_METER}/readings"),
        ("GET", "/me/consumption"),
        ("GET", "/me/garden-meter-requests"),
        ("POST", "/me/garden-meter-requests"),
        ("GET", "/me/export"),
        ("GET", "/me/photos/7d0f3a52-6c1e-4b7a-9a43-2f6e8b1c5d90"),
    ]
    restricted = {
        "Authorization": "Bearer " + readings.issuer.token(MINE, restrictions=["password_change"])
    }
    for method, path in operator_routes:
        refused = await readings.client.request(method, path, headers=customer, json={})
        assert (await problem(refused, 403))["code"] == "forbidden", path
    for method, path in customer_routes:
        refused = await readings.client.request(method, path, headers=operator, json={})
        assert (await problem(refused, 403))["code"] == "forbidden", path
        anonymous = await readings.client.request(method, path, json={})
        assert (await problem(anonymous, 401))["code"] == "unauthorized", path
        limited = await readings.client.request(method, path, headers=restricted, json={})
        assert (await problem(limited, 403))["code"] == "password-change-required", path


FORBIDDEN_REASON = "niedozwolony znak (np. bajt NUL lub niepoprawny znak Unicode)"


async def test_a_forms_text_fields_are_checked_as_a_json_bodys_are(readings: Readings) -> None:
    """A reading with a photo and a garden-meter request (multipart, or urlencoded without a
    file) get the JSON body's text check (``inspect_text``): a NUL or a control character
    in a field is a 400 naming that field, before any rule looks at it."""
    await readings.conclude("U/100001/2024", MINE, serials=(MY_METER,))
    reading = await readings.submit(value="10.000\x00", photo=(PNG, "a.png"), client=MINE)
    assert fields_of(await problem(reading, 400)) == {"value": FORBIDDEN_REASON}
    garden = {
        "kind": "installation",
        "done_on": "2026-03-02",
        "new_serial": "OG-1",
        "initial_value": "0.000",
        "seal_number": "PL-\x1b[2J1",  # an escape sequence (terminal control)
    }
    form = FormData()
    for name, value in garden.items():
        form.add_field(name, value)
    form.add_field("photo", PNG, filename="plomba.png", content_type="image/png")
    sent = await readings.client.post(
        "/me/garden-meter-requests", data=form, headers=readings.issuer.customer(MINE)
    )
    assert fields_of(await problem(sent, 400)) == {"seal_number": FORBIDDEN_REASON}
    urlencoded = await readings.client.post(
        "/me/garden-meter-requests",
        data={**garden, "seal_number": "PL-\x071"},  # BEL, sent as %07
        headers=readings.issuer.customer(MINE),
    )
    assert fields_of(await problem(urlencoded, 400)) == {"seal_number": FORBIDDEN_REASON}
    assert await readings.pool.fetchval("SELECT count(*) FROM garden_requests") == 0
