"""Consumption per month, derived from the readings, ready for a chart."""

from __future__ import annotations

import datetime as dt

from tests.readings.harness import Readings, seed_history
from tests.support.answers import fields_of, problem


async def test_consumption_per_month_with_the_average_per_day(readings: Readings) -> None:
    await readings.conclude(serials=("WM-100001-1",))
    await readings.feed(
        "meters",
        "action,serial,kind,contract_number,date,initial_value,"
        "seal_number\ninstall,OG-1,garden,U/100001/2024,2025-12-31,"
        "0.000,PL-1\n",
    )
    await seed_history(
        readings,
        "WM-100001-1",
        [
            (dt.date(2025, 12, 31), "100.000"),
            (dt.date(2026, 1, 31), "131.000"),  # 31 m³ in January: 1 a day
            (dt.date(2026, 3, 1), "160.000"),  # 28 in February, 1 on 1 March
        ],
    )
    await seed_history(readings, "OG-1", [(dt.date(2026, 2, 28), "5.900")])
    # A customer reading waiting for verification does not count until accepted.
    await readings.submit(value="190.000", read_on="2026-03-09", confirm=True)

    answer = await readings.client.get(
        "/me/consumption?from=2025-12&to=2026-03", headers=readings.issuer.customer()
    )
    body = await answer.json()
    assert body["months"] == [
        {
            "month": "2026-01",
            "water_m3": "31.000",
            "garden_m3": "3.100",
            "days_measured": 31,
            "average_per_day_m3": "1.000",
        },
        {
            "month": "2026-02",
            "water_m3": "28.000",
            "garden_m3": "2.800",
            "days_measured": 28,
            "average_per_day_m3": "1.000",
        },
        {
            "month": "2026-03",
            "water_m3": "1.000",
            "garden_m3": "0.000",
            "days_measured": 1,
            "average_per_day_m3": "1.000",
        },
    ]
    assert (body["total_water_m3"], body["total_garden_m3"]) == ("60.000", "5.900")
    only_feb = await (
        await readings.client.get(
            "/me/consumption?from=2026-02&to=2026-02&contract_number=U/100001/2024",
            headers=readings.issuer.customer(),
        )
    ).json()
    assert [m["month"] for m in only_feb["months"]] == ["2026-02"]

    for query, field, reason in [
        ("from=2026-13", "from", "nieprawidłowy miesiąc (oczekiwano RRRR-MM)"),
        ("from=2026-03&to=2026-01", "from", "początek okresu jest późniejszy niż jego koniec"),
        ("from=2010-01&to=2026-01", "to", "okres może obejmować najwyżej 60 miesięcy"),
    ]:
        refused = await readings.client.get(
            f"/me/consumption?{query}", headers=readings.issuer.customer()
        )
        assert fields_of(await problem(refused, 400)) == {field: reason}
