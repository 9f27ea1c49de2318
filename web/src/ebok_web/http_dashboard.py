"""Pages of the customer portal: the dashboard (what matters at a glance) and consumption
(a chart of m³ per month, the same data as a table, and as a CSV file for a spreadsheet)."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

from aiohttp import web

from . import charts
from .access import api, customer_page
from .formatting import WARSAW, date, month, number
from .gateway import GatewayUnavailable
from .part_state import Part, fetch, from_view
from .rendering import render

routes = web.RouteTableDef()

PERIODS = (12, 24)  # months the consumption page can show
ZERO = Decimal("0")


# -- dashboard --------------------------------------------------------------------------------


@routes.get("/pulpit")
@customer_page()
async def dashboard(request: web.Request) -> web.StreamResponse:
    gateway = api(request)
    view_reply, consumption = await asyncio.gather(
        _dashboard_view(gateway), fetch(gateway, "/me/consumption")
    )
    parts = {
        name: from_view(view_reply, name)
        for name in (
            "balance",
            "last_invoices",
            "meters",
            "e_invoice",
            "open_cases",
            "garden_meter_requests",
        )
    }
    today = dt.datetime.now(WARSAW).date()
    bars = charts.month_bars(consumption.data)[-12:] if consumption.ok else []
    chart = _chart(bars, "wykres-pulpit", height=180) if bars else None
    return render(
        request,
        "customer/dashboard.html",
        title="Pulpit",
        parts=parts,
        balance=_balance_summary(parts["balance"], parts["last_invoices"], today),
        notices=_notices(parts),
        consumption=consumption,
        chart=chart,
    )


async def _dashboard_view(gateway: Any) -> dict[str, Any]:
    """The gateway's aggregated view; a gateway that does not answer leaves every part
    unavailable (the page still opens)."""
    try:
        reply = await gateway.get("/me/dashboard")
    except GatewayUnavailable:
        return {}
    if not reply.ok:
        return {}
    view = reply.json()
    return view if isinstance(view, dict) else {}


def _amount(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return ZERO


def _balance_summary(balance: Part, invoices: Part, today: dt.date) -> dict[str, Any] | None:
    """The balance said plainly: to pay by when, overpaid, or settled; overdue with interest."""
    if not balance.ok:
        return None
    data = balance.data
    position = data["balance"]["position"]
    overdue = data.get("overdue") or {}
    overdue_items = overdue.get("invoices") or []
    interest = sum(
        (_amount(o["interest"].get("accrued_to_today", "0")) for o in overdue_items), ZERO
    )
    due_dates = sorted(
        item["due_date"]
        for item in (invoices.data or {}).get("items", [])
        if invoices.ok and _amount(item.get("outstanding")) > 0 and item["due_date"] >= str(today)
    )
    return {
        "position": position,
        "amount": data["balance"]["amount"],
        "next_due": due_dates[0] if due_dates else None,
        "overdue_amount": overdue.get("amount", "0.00"),
        "overdue_count": len(overdue_items),
        "interest": interest,
        "to_pay_today": sum(
            (
                _amount(o["interest"].get("to_pay_if_paid_today") or o["outstanding"])
                for o in overdue_items
            ),
            ZERO,
        ),
    }


def _notices(parts: dict[str, Part]) -> list[dict[str, str]]:
    """What needs the customer's attention, from what the dashboard's parts say today."""
    found: list[dict[str, str]] = []

    def add(kind: str, text: str, href: str = "", link: str = "") -> None:
        found.append({"kind": kind, "text": text, "href": href, "link": link})

    meters = parts["meters"]
    if meters.ok:
        window = meters.data.get("reading_window") or {}
        if window.get("open") and window.get("closes_on"):
            add(
                "info",
                f"Trwa okres podawania odczytów: do {date(window['closes_on'])}.",
                "/odczyty",
                "Podaj odczyt",
            )
        for meter in meters.data.get("items", []):
            last = meter.get("last_reading") or {}
            serial = meter["serial"]
            if last.get("status") == "rejected":
                add(
                    "warning",
                    f"Odczyt wodomierza {serial} z {date(last['read_on'])} nie został przyjęty.",
                    "/odczyty",
                    "Podaj odczyt ponownie",
                )
            elif last.get("status") == "to_verify":
                add(
                    "info",
                    f"Odczyt wodomierza {serial} z {date(last['read_on'])} czeka na sprawdzenie "
                    "przez pracownika Spółki (nietypowe zużycie).",
                )
            garden = meter.get("garden") or {}
            if garden.get("legalisation_expired") and meter.get("status") == "installed":
                add(
                    "warning",
                    f"Legalizacja wodomierza ogrodowego {serial} wygasła "
                    f"{date(garden['legalisation_expires_on'])}. Wymień wodomierz.",
                    "/wodomierze",
                    "Wodomierze ogrodowe",
                )
    e_invoice = parts["e_invoice"]
    if e_invoice.ok and e_invoice.data.get("pending"):
        pending = e_invoice.data["pending"]
        add(
            "info",
            f"E-faktura czeka na potwierdzenie adresu {pending['email']}: kliknij link "
            "z wiadomości, którą wysłaliśmy na ten adres.",
            "/faktury/e-faktura",
            "E-faktura",
        )
    cases = parts["open_cases"]
    if cases.ok:
        for case in cases.data.get("items", []):
            href = f"/korespondencja/{case['id']}"
            if case.get("evidence_needed"):
                add(
                    "warning",
                    f"Sprawa nr {case['number']} ({case['kind_label']}) czeka na Twoje "
                    "uzupełnienie.",
                    href,
                    f"Otwórz sprawę nr {case['number']}",
                )
            elif case.get("status") == "answered":
                add(
                    "success",
                    f"Odpowiedzieliśmy w sprawie nr {case['number']} ({case['kind_label']}).",
                    href,
                    f"Przeczytaj odpowiedź w sprawie nr {case['number']}",
                )
    return found


# -- consumption ------------------------------------------------------------------------------


def _period(request: web.Request) -> int:
    raw = request.query.get("miesiace", "")
    return int(raw) if raw.isdigit() and int(raw) in PERIODS else PERIODS[-1]


def _chart(bars: list[charts.MonthBar], chart_id: str, *, height: int = 240) -> Any:
    measured = [b for b in bars if b.water is not None]
    total = sum((b.water or ZERO for b in measured), ZERO)
    garden = sum((b.garden for b in measured), ZERO)
    description = (
        f"Zużycie wody w m³ w kolejnych miesiącach, od {month(bars[0].month)} "
        f"do {month(bars[-1].month)}: razem {number(total, 3)} m³"
        + (f", w tym {number(garden, 3)} m³ do podlewania ogrodu" if garden else "")
        + ". Nad każdym słupkiem jest jego wartość; te same dane są w tabeli."
    )
    return charts.consumption_svg(
        bars,
        chart_id=chart_id,
        title="Zużycie wody w m³ w kolejnych miesiącach",
        description=description,
        height=height,
    )


async def _consumption(request: web.Request) -> tuple[Part, list[charts.MonthBar]]:
    part = await fetch(api(request), "/me/consumption")
    bars = charts.month_bars(part.data)[-_period(request) :] if part.ok else []
    return part, bars


@routes.get("/zuzycie")
@customer_page()
async def consumption(request: web.Request) -> web.StreamResponse:
    part, bars = await _consumption(request)
    measured = [b for b in bars if b.water is not None]
    return render(
        request,
        "customer/consumption.html",
        title="Zużycie wody",
        part=part,
        bars=bars,
        chart=_chart(bars, "wykres-zuzycia") if bars else None,
        total=sum((b.water or ZERO for b in measured), ZERO),
        garden=sum((b.garden for b in measured), ZERO),
        has_garden=any(b.garden for b in bars),
        months=_period(request),
        periods=PERIODS,
        months_data={m["month"]: m for m in (part.data or {}).get("months", [])} if part.ok else {},
    )


def _decimal_comma(value: Any, digits: int = 3) -> str:
    """A number as Excel in Polish reads it: no grouping, a decimal comma."""
    if value in (None, ""):
        return ""
    return f"{Decimal(str(value)):.{digits}f}".replace(".", ",")


@routes.get("/zuzycie.csv")
@customer_page()
async def consumption_csv(request: web.Request) -> web.StreamResponse:
    part, bars = await _consumption(request)
    if not part.ok:
        raise GatewayUnavailable("consumption for CSV")
    found = {m["month"]: m for m in part.data.get("months", [])}
    out = io.StringIO()
    out.write("\ufeff")  # the BOM: Excel then reads the file as UTF-8
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        ["Miesiąc", "Woda (m³)", "W tym ogród (m³)", "Dni z pomiarem", "Średnio na dzień (m³)"]
    )
    for bar in bars:
        row = found.get(bar.month) or {}
        writer.writerow(
            [
                bar.label,
                _decimal_comma(row.get("water_m3")),
                _decimal_comma(row.get("garden_m3")),
                str(row.get("days_measured", "")),
                _decimal_comma(row.get("average_per_day_m3")),
            ]
        )
    return web.Response(
        body=out.getvalue().encode("utf-8"),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="zuzycie-wody.csv"',
            "Cache-Control": "no-store",
        },
    )
