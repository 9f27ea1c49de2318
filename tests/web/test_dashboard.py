"""The dashboard (what matters at a glance) and consumption (SVG chart, table, CSV) over HTTP
against the whole stack; then portal switches and a stopped service (last in the module:
it stops billing and starts it again)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

from ebok_web.charts import short_number
from ebok_web.formatting import date, money, volume
from ebok_web.formatting import month as month_name

from tests.e2e.client import Api, expect
from tests.e2e.data import Customer, _months_back
from tests.e2e.journeys import CUSTOMER_PASSWORD, Session
from tests.e2e.stack import Stack
from tests.support.waiting import eventually

from . import money_pages as mp
from .browser import shared_stack  # noqa: F401  (fixture "stack": tests/web's shared one)
from .customers import ready_customer, sign_in
from .portal import Portal, attr, one


async def _feed(api: Api, operator: Session, kind: str, body: str) -> None:
    async with api.http.post(
        f"{api.base}/operator/readings/feed/{kind}",
        data=body.encode(),
        headers={"Authorization": f"Bearer {operator.access}", "Content-Type": "text/csv"},
    ) as resp:
        assert resp.status == 201, await resp.text()


async def _readings(api: Api, operator: Session, customer: Customer) -> str:
    """Fifteen monthly readings of the main meter and a garden meter read in three months
    (through the back office's feed, as inspectors' readings come); the garden serial."""
    today = dt.date.today()
    value = 100.0
    rows = ["meter_serial,read_on,value,source"]
    for back in range(14, -1, -1):
        rows.append(f"{customer.meter},{_months_back(today, back).isoformat()},{value:.3f},remote")
        value += 6 + back % 5
    await _feed(api, operator, "readings", "\n".join(rows) + "\n")
    garden = f"OG-{customer.client_number}"
    installed = _months_back(today, 6)
    await _feed(
        api,
        operator,
        "meters",
        "action,serial,kind,contract_number,date,initial_value,final_value,old_serial,"
        f"seal_number\ninstall,{garden},garden,{customer.contract_number},"
        f"{installed.isoformat()},0.000,,,PL-{customer.client_number}\n",
    )
    garden_rows = ["meter_serial,read_on,value,source"]
    for back, reading in ((5, "1.000"), (4, "3.000"), (3, "4.500")):
        garden_rows.append(f"{garden},{_months_back(today, back).isoformat()},{reading},remote")
    await _feed(api, operator, "readings", "\n".join(garden_rows) + "\n")
    return garden


async def _windows(api: Api, operator: Session, body: dict[str, Any]) -> None:
    expect(
        await api.put("/operator/readings/reading-windows", token=operator.access, json=body), 200
    )


# -- dashboard ----------------------------------------------------------------------------------


async def test_dashboard_says_what_matters_at_a_glance(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await ready_customer(stack, api, workdir)
    token = await mp.token(api, customer)
    address = f"e.{customer.client_number}@example.pl"
    expect(await api.put("/me/e-invoice", token=token, json={"email": address}), 202)
    balance = expect(await api.get("/me/balance", token=token), 200)

    page = await sign_in(portal, customer.client_number)
    assert page.path == "/pulpit" and page.status == 200, page
    assert page.title == "Pulpit – e-BOK MPWiK" and page.h1 == "Pulpit"
    assert len(page.soup.find_all("h1")) == 1

    saldo = mp.section(page, "saldo")
    assert f"Do zapłaty {mp.plain(money(balance['balance']['amount']))}" in saldo, saldo
    overdue = balance["overdue"]
    assert f"Po terminie 2 faktury na {mp.plain(money(overdue['amount']))}" in saldo, saldo
    assert "odsetki do dziś" in saldo and "Przy zapłacie dziś:" in saldo
    with_interest = balance["to_pay_today"]["amount"]  # issue 14.5: the headline with interest
    assert f"Do zapłaty dziś z odsetkami: {mp.plain(money(with_interest))}" in saldo, saldo
    assert "/saldo" in page.links()

    invoices = mp.section(page, "ostatnie-faktury")
    for number_, gross in customer.invoices:
        assert number_ in invoices and mp.plain(money(gross)) in invoices
        assert f"/faktury/{number_}" in page.links()

    meters = mp.section(page, "wodomierze")
    assert f"Wodomierz główny {customer.meter}" in meters and "Brak odczytów." in meters
    action = page.soup.select_one("#wodomierze ~ p a[href='/odczyty']")
    assert action is not None and "Podaj odczyt" in action.get_text(), meters

    notices = " ".join(n.get_text(" ", strip=True) for n in page.soup.select(".notice"))
    assert f"E-faktura czeka na potwierdzenie adresu {address}" in notices, notices
    assert "Nie ma jeszcze odczytów" in mp.section(page, "zuzycie")
    assert "Nie masz otwartych spraw." in mp.section(page, "sprawy")
    assert not page.soup.select("[style]") and not page.soup.select("script:not([src])")


async def test_dashboard_notices_tell_of_an_answer_and_of_evidence_asked_for(
    portal: Portal, stack: Stack, api: Api, workdir: Path, operator: Session
) -> None:
    """Issue 14.8: the gateway's notices on the page, each with a link where to act, in
    Polish; a warning says so in words too (not by colour alone)."""
    customer = await ready_customer(stack, api, workdir)
    token = await mp.token(api, customer)
    letter = expect(
        await api.post(
            "/me/correspondence",
            token=token,
            json={"kind": "letter", "subject": "Pytanie", "content": "Proszę o informację."},
        ),
        201,
    )
    reklamacja: dict[str, Any] = {}

    async def filed() -> bool:  # correspondence learns whose invoices are whose from events
        reply = await api.post(
            "/me/correspondence",
            token=token,
            json={
                "kind": "reklamacja",
                "invoice_number": customer.invoice_number,
                "reason": "Zużycie jest zawyżone.",
            },
        )
        if reply.status == 201:
            reklamacja.update(reply.json())
        return reply.status == 201

    await eventually(filed, "the reklamacja filed", within=15, step=0.02)
    cases = "/operator/correspondence/cases"
    expect(
        await api.post(
            f"{cases}/{letter['id']}/replies", token=operator.access, json={"body": "Odpowiedź."}
        ),
        201,
    )
    expect(
        await api.post(
            f"{cases}/{reklamacja['id']}/evidence-needed",
            token=operator.access,
            json={"note": "Prosimy o zdjęcie wodomierza."},
        ),
        200,
    )

    page = await sign_in(portal, customer.client_number)
    assert page.path == "/pulpit", page
    heading = page.soup.select_one("#powiadomienia")
    assert heading is not None and heading.get_text().startswith("Powiadomienia"), page
    shown = {n.get_text(" ", strip=True): n.select_one("a") for n in page.soup.select(".notice")}
    evidence = next(t for t in shown if f"sprawie nr {reklamacja['number']}" in t)
    assert evidence.startswith("Ważne: W sprawie nr") and "uzupełnienie dowodów" in evidence
    link = shown[evidence]
    assert link is not None and link["href"] == f"/korespondencja/{reklamacja['id']}"
    assert link.get_text(strip=True) == f"Otwórz sprawę nr {reklamacja['number']}"
    answered = next(t for t in shown if f"Odpowiedzieliśmy w sprawie nr {letter['number']}" in t)
    link = shown[answered]
    assert link is not None and link["href"] == f"/korespondencja/{letter['id']}"
    # Most pressing first: the evidence asked for before the answer waiting.
    order = list(shown)
    assert order.index(evidence) < order.index(answered)


async def test_consumption_chart_table_csv_and_the_dashboards_chart(
    portal: Portal, stack: Stack, api: Api, workdir: Path, operator: Session
) -> None:
    customer = await ready_customer(stack, api, workdir)
    garden = await _readings(api, operator, customer)
    closes = dt.date.today() + dt.timedelta(days=3)
    opens = dt.date.today() - dt.timedelta(days=1)
    await _windows(
        api,
        operator,
        {"mode": "windows", "windows": [{"opens_on": str(opens), "closes_on": str(closes)}]},
    )
    try:
        dashboard = await sign_in(portal, customer.client_number)
    finally:
        await _windows(api, operator, {"mode": "always"})
    token = await mp.token(api, customer)
    data = expect(await api.get("/me/consumption", token=token), 200)
    months = [m for m in data["months"] if m["water_m3"] != "0.000" or m["garden_m3"] != "0.000"]
    assert len(months) >= 12, data
    gardened = [m["month"] for m in data["months"] if m["garden_m3"] != "0.000"]
    assert gardened, data

    # The dashboard: the notice, the meter's last reading, a small chart of 12 months at most.
    notices = " ".join(n.get_text(" ", strip=True) for n in dashboard.soup.select(".notice"))
    assert f"Trwa okres podawania odczytów: do {date(closes)}." in notices, notices
    meters = mp.section(dashboard, "wodomierze")
    assert f"Wodomierz ogrodowy {garden}" in meters
    assert "Ostatni odczyt:" in meters and mp.plain(date(dt.date.today().replace(day=1))) in meters
    small = dashboard.soup.select_one("svg#wykres-pulpit")
    assert small is not None and 1 <= len(small.select("rect.bar")) <= 12, dashboard

    page = await portal.get("/zuzycie")
    assert page.status == 200, page
    assert page.title == "Zużycie wody – e-BOK MPWiK" and page.h1 == "Zużycie wody"
    svg = page.soup.select_one("svg#wykres-zuzycia")
    assert svg is not None and svg["role"] == "img", page
    assert one(svg, "title").get_text() and "m³" in one(svg, "desc").get_text()
    assert set(attr(svg, "aria-labelledby").split()) == {
        "wykres-zuzycia-title",
        "wykres-zuzycia-desc",
    }
    by_month = {m["month"]: m for m in data["months"]}
    groups = svg.select("g.chart__month")
    assert len(svg.select("rect.bar")) == len(groups) == len(by_month), svg
    for group in groups:
        month = by_month[attr(group, "data-month")]
        value = one(group, "text.chart__value").get_text()
        assert value == short_number(Decimal(month["water_m3"])), (group, month)
        assert bool(group.select("rect.garden")) == (month["garden_m3"] != "0.000")
    labels = [t.get_text() for t in svg.select("text.chart__label--garden")]
    assert len(labels) == len(gardened) and all(t.startswith("ogr. ") for t in labels)
    legend = one(page.soup, ".legend").get_text(" ", strip=True)
    assert "ogrodu" in legend and "kreskowana" in legend

    rows = page.soup.select("[aria-labelledby=tabela-zuzycia] tbody tr")
    missing = svg.select("text.chart__value--none")  # months no reading covers
    assert len(rows) == len(groups) + len(missing)
    table = {}
    for row in rows:
        cells = [" ".join(c.get_text(" ", strip=True).split()) for c in row.find_all(["th", "td"])]
        table[cells[0]] = cells[1:]
    for month in by_month.values():
        cells = table[month_name(month["month"])]
        assert cells[0] == mp.plain(volume(month["water_m3"])), cells
        assert cells[1] == mp.plain(volume(month["garden_m3"])), cells

    link = page.soup.select_one("a[href^='/zuzycie.csv']")
    assert link is not None
    download = await portal.get(str(link["href"]))
    assert download.status == 200, download
    assert download.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in download.headers["Content-Disposition"]
    assert download.body.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(download.body.decode("utf-8-sig")), delimiter=";"))
    assert lines[0][:3] == ["Miesiąc", "Woda (m³)", "W tym ogród (m³)"]
    assert len(lines) - 1 == len(rows)
    for line in lines[1:]:
        found = next((m for m in by_month.values() if month_name(m["month"]) == line[0]), None)
        if found is None:
            assert line[1:3] == ["", ""], line
            continue
        assert line[1] == found["water_m3"].replace(".", ","), line
        assert line[2] == found["garden_m3"].replace(".", ","), line

    twelve = await portal.get("/zuzycie?miesiace=12")
    assert len(twelve.soup.select("svg#wykres-zuzycia g.chart__month")) <= 12
    assert attr(one(twelve.soup, "option[selected]"), "value") == "12"


def _consumption_asked(metrics: str) -> float:
    """How many times the gateway answered /me/consumption (kept or from readings)."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("ebok_gateway_kept_answers_total{") and '"/me/consumption"' in line
    )


async def test_the_dashboards_chart_comes_with_the_dashboard_in_one_call(
    portal: Portal, stack: Stack, api: Api, workdir: Path, operator: Session
) -> None:
    """The page asks the gateway once: the consumption comes as a part of the dashboard's
    view (``?include=consumption``), not from /me/consumption beside it."""
    customer = await ready_customer(stack, api, workdir)
    await _readings(api, operator, customer)
    async with api.http.get(f"{stack.gateway_url}/metrics") as resp:
        before = _consumption_asked(await resp.text())
    page = await sign_in(portal, customer.client_number)
    chart = page.soup.select_one("svg#wykres-pulpit")
    assert chart is not None and chart.select("rect.bar"), page
    token = await mp.token(api, customer)
    view = expect(await api.get("/me/dashboard?include=consumption", token=token), 200)
    months = {m["month"] for m in view["consumption"]["data"]["months"]}
    assert {attr(g, "data-month") for g in chart.select("g.chart__month")} <= months
    async with api.http.get(f"{stack.gateway_url}/metrics") as resp:
        assert _consumption_asked(await resp.text()) == before


def _dashboards_not_modified(metrics: str) -> float:
    """How many times the gateway answered the dashboard's view with 304 (If-None-Match)."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("ebok_http_requests_total{")
        and 'route="/api/v1/me/dashboard"' in line
        and 'status="304"' in line
    )


async def test_an_unchanged_view_gives_the_page_as_made_and_a_change_shows_at_once(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    """Web keeps the page it made with the view's ETag: the next view of the same session asks
    the gateway with If-None-Match and, on 304, answers the same page (gzipped); a change
    through the API is on the next page at once."""
    customer = await ready_customer(stack, api, workdir)
    signed_in = await sign_in(portal, customer.client_number)
    assert signed_in.path == "/pulpit" and signed_in.status == 200, signed_in
    first = await portal.get("/pulpit")  # one-time messages of the sign-in are gone
    async with api.http.get(f"{stack.gateway_url}/metrics") as resp:
        before = _dashboards_not_modified(await resp.text())
    again = await portal.get("/pulpit")
    assert again.status == 200 and again.body == first.body
    assert again.headers["Content-Encoding"] == "gzip"
    assert again.headers["Cache-Control"] == "no-store"  # a personal page, kept by web only
    async with api.http.get(f"{stack.gateway_url}/metrics") as resp:
        assert _dashboards_not_modified(await resp.text()) == before + 1

    # without gzip the same page, unpacked
    async with portal.http.get(
        portal.url("/pulpit"),
        headers={"X-Forwarded-For": portal.address, "Accept-Encoding": "identity"},
    ) as resp:
        assert "Content-Encoding" not in resp.headers
        assert await resp.read() == first.body

    token = await mp.token(api, customer)
    address = f"e.{customer.client_number}@example.pl"
    expect(await api.put("/me/e-invoice", token=token, json={"email": address}), 202)
    changed = await portal.get("/pulpit")
    notices = " ".join(n.get_text(" ", strip=True) for n in changed.soup.select(".notice"))
    assert f"E-faktura czeka na potwierdzenie adresu {address}" in notices, notices


async def test_switched_off_and_hidden_sections(
    portal: Portal, stack: Stack, api: Api, workdir: Path, operator: Session
) -> None:
    customer = await ready_customer(stack, api, workdir)
    message = "Faktury są chwilowo niedostępne z powodu prac serwisowych do godz. 18:00."

    async def section(name: str, mode: str, text: str | None = None) -> None:
        body = {"mode": mode, **({"message": text} if text else {})}
        expect(
            await api.put(
                f"/operator/portal-settings/sections/{name}", token=operator.access, json=body
            ),
            200,
        )

    await section("invoices", "off", message)
    await section("readings", "hidden")
    try:
        page = await sign_in(portal, customer.client_number)
        assert page.path == "/pulpit" and page.status == 200, page
        assert message in mp.section(page, "saldo")
        assert message in mp.section(page, "ostatnie-faktury")
        assert page.soup.find(id="wodomierze") is None  # hidden: nothing at all
        assert page.soup.find(id="zuzycie") is None
        invoices = await portal.get("/faktury")
        assert invoices.status == 200 and message in invoices.text, invoices
        balance = await portal.get("/saldo")
        assert balance.status == 200 and message in balance.text, balance

        await section("e_invoices", "read_only", "Trwa przegląd zgód na e-faktury.")

        async def shown_read_only() -> bool:
            page = await portal.get("/faktury/e-faktura")
            return "Tylko do odczytu" in page.text

        await eventually(shown_read_only, "the read-only e-invoice section", within=10, step=0.02)
        e_invoice = await portal.get("/faktury/e-faktura")
        assert e_invoice.status == 200 and "brak zgody" in e_invoice.text, e_invoice  # the data
        assert "Trwa przegląd zgód na e-faktury." in e_invoice.text  # the operator's message
        assert not e_invoice.soup.select("main form"), e_invoice  # and no form
    finally:
        await section("invoices", "on")
        await section("readings", "on")
        await section("e_invoices", "on")
    again = await portal.get("/pulpit")
    assert message not in again.text and again.soup.find(id="wodomierze") is not None


async def test_a_stopped_service_shows_its_parts_unavailable(
    portal: Portal, stack: Stack, api: Api, workdir: Path
) -> None:
    customer = await ready_customer(stack, api, workdir)
    login = await portal.get("/logowanie?next=/umowy")  # not the dashboard: nothing kept yet
    signed_in = await portal.submit(
        login, {"login": customer.client_number, "password": CUSTOMER_PASSWORD}
    )
    assert signed_in.path == "/umowy", signed_in
    await stack.stop_service("billing")
    try:
        page = await portal.get("/pulpit")
        assert page.status == 200, page
        assert "Saldo: dane są chwilowo niedostępne" in page.text, page
        assert "Faktury: dane są chwilowo niedostępne" in page.text
        assert f"Wodomierz główny {customer.meter}" in page.text  # readings still answer
        invoices = await portal.get("/faktury")
        assert invoices.status == 200, invoices
        assert "Faktury: dane są chwilowo niedostępne" in invoices.text
        contracts = await portal.get("/umowy")
        assert contracts.status == 200 and "Umowy: dane są chwilowo niedostępne" in contracts.text
    finally:
        await stack.start_service("billing")
    back = await portal.get("/faktury")
    assert customer.invoice_number in back.text, back


async def test_a_stopped_readings_shows_the_chart_unavailable_and_the_rest_of_the_page(
    portal: Portal, stack: Stack, api: Api, workdir: Path, operator: Session
) -> None:
    customer = await ready_customer(stack, api, workdir)
    await _readings(api, operator, customer)
    login = await portal.get("/logowanie?next=/umowy")  # not the dashboard: nothing kept yet
    signed_in = await portal.submit(
        login, {"login": customer.client_number, "password": CUSTOMER_PASSWORD}
    )
    assert signed_in.path == "/umowy", signed_in
    await stack.stop_service("readings")
    try:
        page = await portal.get("/pulpit")
        assert page.status == 200, page
        assert "Zużycie wody: dane są chwilowo niedostępne" in mp.section(page, "zuzycie")
        assert page.soup.select_one("svg#wykres-pulpit") is None
        assert "Do zapłaty" in mp.section(page, "saldo")  # billing still answers
        assert customer.invoice_number in mp.section(page, "ostatnie-faktury")
    finally:
        await stack.start_service("readings")
    back = await portal.get("/pulpit")
    assert back.soup.select_one("svg#wykres-pulpit") is not None, back
