"""Pages of the customer portal: the dashboard (what matters at a glance) and consumption
(a chart of m³ per month, the same data as a table, and as a CSV file for a spreadsheet)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from aiohttp import web
from ebok_shared.logs import get_logger

from . import charts
from .access import Api, api, customer_page, session_of
from .formatting import WARSAW, month, number
from .gateway import GatewayUnavailable, Reply
from .keys import KEPT_PAGES
from .part_state import Part, fetch, from_view
from .rendering import render

log = get_logger(__name__)
routes = web.RouteTableDef()

PERIODS = (12, 24)  # months the consumption page can show
ZERO = Decimal("0")


# -- dashboard --------------------------------------------------------------------------------


# The gateway's dashboard parts the page shows; the consumption for the chart comes with them
# (``?include=consumption``): one call for the whole page.
PARTS = (
    "balance",
    "last_invoices",
    "meters",
    "e_invoice",
    "open_cases",
    "garden_meter_requests",
    "notices",
    "consumption",
)


@routes.get("/pulpit")
@customer_page()
async def dashboard(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    assert session is not None  # customer_page let a signed-in customer in
    today = dt.datetime.now(WARSAW).date()
    pages = request.app[KEPT_PAGES]
    kept = pages.get(session, today)
    reply = await _dashboard_reply(api(request), kept.etag if kept else None)
    if kept is not None and reply is not None and reply.status == 304:
        return kept.answer(request)  # the same view: the page as it was made
    view = _view_of(reply)
    parts = {name: from_view(view, name) for name in PARTS}
    consumption = parts["consumption"]
    bars = charts.month_bars(consumption.data, ending=12) if consumption.ok else []
    chart = _chart(bars, "wykres-pulpit", height=180) if bars else None
    with_messages = bool(session.flash)  # read before render takes them
    page = render(
        request,
        "customer/dashboard.html",
        title="Pulpit",
        parts=parts,
        balance=_balance_summary(parts["balance"], parts["last_invoices"], today),
        notices=_notices(parts["notices"]),
        consumption=consumption,
        chart=chart,
    )
    etag = reply.headers.get("ETag") if view is not None and reply is not None else None
    if etag is None or with_messages or not isinstance(page.body, bytes):
        return page
    return pages.keep(session, today, etag, page.body).answer(request)


async def _dashboard_reply(gateway: Api, etag: str | None) -> Reply | None:
    """The gateway's aggregated view with the consumption (304 when it is still ``etag``);
    None when the gateway cannot be reached."""
    headers = {"If-None-Match": etag} if etag else None
    try:
        # the address written out: nothing of it is the request's to encode
        return await gateway.get("/me/dashboard?include=consumption", headers=headers)
    except GatewayUnavailable:
        return None


def _view_of(reply: Reply | None) -> dict[str, Any] | None:
    """The view in the gateway's answer; None when it gave none (down, or refused): every
    part is then unavailable (the page still opens)."""
    if reply is None:
        return None
    if not reply.ok:
        log.warning("dashboard view refused", status=reply.status, code=reply.code)
        return None
    view = reply.json()
    return view if isinstance(view, dict) else None


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
    with_interest = data.get("to_pay_today") or {}
    return {
        "position": position,
        "amount": data["balance"]["amount"],
        # billing's total to pay today: the balance and the interest still accruing
        "with_interest": with_interest.get("amount") if with_interest.get("available") else None,
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


# Where each of the gateway's notices leads on the portal: the page and the link's words.
_NOTICE_LINKS: dict[str, tuple[str, str]] = {
    "block_scheduled": ("/konto", "Moje konto"),
    "new_terms": ("/regulamin", "Przeczytaj regulamin"),
    "leak_suspected": ("/odczyty", "Odczyty wodomierzy"),
    "reading_rejected": ("/odczyty", "Podaj odczyt ponownie"),
    "reading_window_open": ("/odczyty", "Podaj odczyt"),
    "garden_legalisation_expired": ("/wodomierze", "Wodomierze ogrodowe"),
    "e_invoice_pending": ("/faktury/e-faktura", "E-faktura"),
    "case_answered": ("/korespondencja/{case_id}", "Przeczytaj odpowiedź w sprawie nr {number}"),
    "evidence_needed": ("/korespondencja/{case_id}", "Otwórz sprawę nr {number}"),
}
_LEVELS = ("warning", "info", "success")


def _notices(part: Part) -> list[dict[str, str]]:
    """The gateway's notices (what needs the customer's attention), each with its link."""
    if not part.ok or not isinstance(part.data, dict):
        return []
    found: list[dict[str, str]] = []
    for notice in part.data.get("items") or []:
        subject = notice.get("subject") or {}
        href, link = _NOTICE_LINKS.get(notice.get("kind", ""), ("", ""))
        if "{case_id}" in href:
            if not subject.get("case_id"):
                href = link = ""
            else:
                href = href.format(case_id=quote(str(subject["case_id"]), safe=""))
                link = link.format(number=subject.get("case_number", ""))
        level = notice.get("level")
        found.append(
            {
                "kind": level if level in _LEVELS else "info",
                "text": str(notice.get("text") or ""),
                "href": href,
                "link": link,
            }
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
    bars = charts.month_bars(part.data, ending=_period(request)) if part.ok else []
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
