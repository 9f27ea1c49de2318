"""Charts drawn on the server: SVG built from data in Python, inline in the page (no JS).

The consumption chart has one bar per month, its height the water the main meters measured,
its value written above it. Garden water (a sub-meter behind the main one, so part of that
water) is the hatched lower part of the bar and is written under the month as well: its
meaning is never carried by colour alone. Colours and the hatch come from classes in
ebok.css; only geometry is in the SVG's attributes (the CSP forbids inline styles).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from markupsafe import Markup, escape

from .formatting import MONTHS_SHORT, month, number

# Geometry of the drawing (user units of the viewBox; the page scales it to its width).
SLOT = 50  # horizontal room of one month
BAR = 32  # width of a bar within its slot
LEFT, RIGHT, TOP = 8, 8, 26  # margins: the top one holds the tallest bar's value
LABELS = 48  # room under the axis for the month, the year and the garden water


@dataclass(frozen=True)
class MonthBar:
    month: str  # "2026-01"
    water: Decimal | None  # None: no reading covers the month
    garden: Decimal

    @property
    def label(self) -> str:
        return month(self.month)


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value in (None, "") else Decimal(str(value))
    except InvalidOperation:
        return None


def short_number(value: Decimal) -> str:
    """One decimal place, enough on a bar; a small amount that would read "0" keeps three."""
    return number(value, 3 if Decimal("0") < value < Decimal("0.05") else 1)


def _key(year: int, month_index: int) -> str:
    return f"{year:04d}-{month_index:02d}"


def _index(key: str) -> int:
    """ "YYYY-MM" as a count of months (consecutive months: consecutive numbers)."""
    return int(key[:4]) * 12 + int(key[5:7]) - 1


def month_keys(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` ("YYYY-MM"), both included."""
    start = int(first[:4]) * 12 + int(first[5:]) - 1
    end = int(last[:4]) * 12 + int(last[5:]) - 1
    return [_key(i // 12, i % 12 + 1) for i in range(start, end + 1)]


def month_bars(
    consumption: Mapping[str, Any], *, at_least: int = 12, ending: int | None = None
) -> list[MonthBar]:
    """The API's months as bars, one per calendar month, gaps included: from the first month
    with data (but at least ``at_least`` months back from the end) to the period's end; with
    ``ending``, only that many months at the end (the others are never built)."""
    found = {m["month"]: m for m in consumption.get("months") or []}
    if not found:
        return []  # nothing measured yet: no chart at all
    end = _index(str(consumption.get("to") or max(found)))
    first = _index(min(found))
    if end - first + 1 < at_least:  # at least that many months back, if the period has them
        first = max(_index(str(consumption.get("from") or min(found))), end - at_least + 1)
    if ending is not None:
        first = max(first, end - ending + 1)
    keys = [_key(i // 12, i % 12 + 1) for i in range(first, end + 1)]
    bars = []
    for key in keys:
        data = found.get(key)
        water = _decimal(data.get("water_m3")) if data else None
        garden = (_decimal(data.get("garden_m3")) if data else None) or Decimal("0")
        bars.append(MonthBar(key, water, garden))
    return bars


def _short_month(key: str) -> str:
    return MONTHS_SHORT[int(key[5:])]  # CLDR "LLL": "sty", "lut"…


def _text(x: float, y: float, content: str, css: str, anchor: str = "middle") -> str:
    """A label; ``content`` is always our own writing of a number, a year or a CLDR month
    name (never text from the API), so it is put in as it is, unescaped."""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" class="{css}">{content}</text>'


def consumption_svg(
    bars: Iterable[MonthBar], *, chart_id: str, title: str, description: str, height: int = 220
) -> Markup:
    """A bar chart of m³ per month (``chart_id`` keeps its ids unique in the page)."""
    bars = list(bars)
    top = max([b.water or Decimal("0") for b in bars] + [Decimal("0")])
    scale_top = top if top > 0 else Decimal("1")
    plot = height - TOP - LABELS  # height of the tallest bar
    base = TOP + plot  # y of the axis
    width = LEFT + RIGHT + SLOT * max(len(bars), 1)
    parts = [
        f'<svg class="chart" id="{chart_id}" role="img" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}"'
        f' aria-labelledby="{chart_id}-title {chart_id}-desc" focusable="false">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
        "<defs>"
        f'<pattern id="{chart_id}-hatch" class="hatch" patternUnits="userSpaceOnUse"'
        ' width="6" height="6" patternTransform="rotate(45)">'
        '<rect class="hatch__ground" x="0" y="0" width="6" height="6"/>'
        '<line class="hatch__line" x1="0" y1="0" x2="0" y2="6"/>'
        "</pattern></defs>",
    ]
    for i, bar in enumerate(bars):
        slot_x = LEFT + SLOT * i
        x = slot_x + (SLOT - BAR) / 2
        centre = slot_x + SLOT / 2
        if bar.water is None:
            parts.append(_text(centre, base - 4, "brak", "chart__value chart__value--none"))
        else:
            tall = float(bar.water / scale_top) * plot
            parts.append(
                f'<g class="chart__month" data-month="{bar.month}">'
                f'<rect class="bar" x="{x:.1f}" y="{base - tall:.1f}" width="{BAR}"'
                f' height="{tall:.1f}"><title>{bar.label}: '  # our own words (see _text)
                f"{number(bar.water, 3)} m³</title></rect>"
            )
            if bar.garden > 0:
                part = min(float(bar.garden / scale_top) * plot, tall)
                parts.append(
                    f'<rect class="garden" fill="url(#{chart_id}-hatch)"'
                    f' x="{x:.1f}" y="{base - part:.1f}" width="{BAR}" height="{part:.1f}">'
                    f"<title>{bar.label}: w tym ogród "
                    f"{number(bar.garden, 3)} m³</title></rect>"
                )
            parts.append(
                _text(centre, base - tall - 5, short_number(bar.water), "chart__value") + "</g>"
            )
        parts.append(_text(centre, base + 15, _short_month(bar.month), "chart__label"))
        if i == 0 or bar.month.endswith("-01"):
            parts.append(_text(centre, base + 29, bar.month[:4], "chart__label"))
        if bar.garden > 0:
            parts.append(
                _text(centre, base + 43, f"ogr. {short_number(bar.garden)}", "chart__label--garden")
            )
    parts.append(
        f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{width - RIGHT}" y2="{base}"/></svg>'
    )
    return Markup("".join(parts))
