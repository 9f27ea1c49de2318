"""JSON shapes of the API: rows in, dicts out (m³ as strings with three decimals)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from . import domain
from .domain import WindowState


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _m3(value: Decimal | None) -> str | None:
    return domain.m3(value) if value is not None else None


def _at(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def reading(r: Any, *, operator: bool = False) -> dict[str, Any]:
    shown = {
        "id": str(r["id"]),
        "meter_serial": r["meter_serial"],
        "contract_number": r["contract_number"],
        "value": domain.m3(r["value"]),
        "read_on": r["read_on"].isoformat(),
        "source": r["source"],
        "role": r["role"],
        "status": r["status"],
        "unusual": r["unusual"],
        "daily_consumption": _m3(r["daily_m3"]),
        "submitted_at": r["submitted_at"].isoformat(),
        "has_photo": r["photo_id"] is not None,
        "decision_reason": r["decision_reason"],
        "decided_at": _at(r["decided_at"]),
    }
    if operator:
        shown.update(
            client_number=r["client_number"],
            submitted_by=r["submitted_by"],
            decided_by=r["decided_by"],
            baseline_daily=_m3(r["baseline_m3"]),
            leak_suspected=r["leak_suspected"],
            photo_id=str(r["photo_id"]) if r["photo_id"] else None,
            superseded_at=_at(r["superseded_at"]),
            superseded_by=str(r["superseded_by"]) if r["superseded_by"] else None,
            billed_at=_at(r["billed_at"]),
        )
        if "kind" in r.keys():
            shown["meter_kind"] = r["kind"]
    return shown


def window(state: WindowState) -> dict[str, Any]:
    return {
        "open": state.open,
        "always_open": state.open and state.current is None,
        "closes_on": _day(state.current.closes_on) if state.current else None,
        "next_opens_on": _day(state.next.opens_on) if state.next else None,
        "next_closes_on": _day(state.next.closes_on) if state.next else None,
    }


def meter(
    m: Any, *, today: dt.date, dates: tuple[str, ...], legalisation_years: int
) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "serial": m["serial"],
        "kind": m["kind"],
        "contract_number": m["contract_number"],
        "status": "removed" if m["removed_on"] is not None else "installed",
        "installed_on": m["installed_on"].isoformat(),
        "initial_value": _m3(m["initial_value"]),
        "removed_on": _day(m["removed_on"]),
        "final_value": _m3(m["final_value"]),
        "seal_number": m["seal_number"],
        "replaces": m["replaces"],
        "replaced_by": m["replaced_by"],
        "last_reading": None,
    }
    if "last_id" in m.keys() and m["last_id"] is not None:
        shown["last_reading"] = {
            "id": str(m["last_id"]),
            "value": domain.m3(m["last_value"]),
            "read_on": m["last_read_on"].isoformat(),
            "source": m["last_source"],
            "status": m["last_status"],
        }
    if m["kind"] == "garden":
        expires = domain.add_years(m["sealed_on"], legalisation_years) if m["sealed_on"] else None
        installed = m["removed_on"] is None
        shown["garden"] = {
            "sealed_on": _day(m["sealed_on"]),
            "legalisation_expires_on": _day(expires),
            "legalisation_expired": expires is not None and expires < today,
            "next_reading_dates": [d.isoformat() for d in domain.next_reading_dates(today, dates)]
            if installed
            else [],
        }
    return shown


def garden_request(q: Any, history: list[Any], *, operator: bool = False) -> dict[str, Any]:
    shown = {
        "id": str(q["id"]),
        "kind": q["kind"],
        "status": q["status"],
        "contract_number": q["contract_number"],
        "done_on": q["done_on"].isoformat(),
        "new_serial": q["new_serial"],
        "initial_value": _m3(q["initial_value"]),
        "seal_number": q["seal_number"],
        "old_serial": q["old_serial"],
        "final_value": _m3(q["final_value"]),
        "has_photo": q["photo_id"] is not None,
        "submitted_at": q["submitted_at"].isoformat(),
        "decided_at": _at(q["decided_at"]),
        "reason": q["reason"],
        "history": [
            {
                "status": h["status"],
                "at": h["at"].isoformat(),
                "reason": h["reason"],
                **({"by": h["by"]} if operator else {}),
            }
            for h in history
        ],
    }
    if operator:
        shown.update(
            client_number=q["client_number"],
            submitted_by=q["submitted_by"],
            decided_by=q["decided_by"],
            photo_id=str(q["photo_id"]) if q["photo_id"] else None,
        )
    return shown


def months(
    found: dict[str, domain.Month], first: str | None, last: str | None
) -> list[dict[str, Any]]:
    shown = []
    for key, month in found.items():
        if (first is not None and key < first) or (last is not None and key > last):
            continue
        average = month.average_per_day()
        shown.append(
            {
                "month": key,
                "water_m3": domain.m3(month.water),
                "garden_m3": domain.m3(month.garden),
                "days_measured": month.days,
                "average_per_day_m3": _m3(average),
            }
        )
    return shown


def stringify(value: Any) -> Any:
    """Rows for the export: dates, times, numbers and ids as strings."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return domain.m3(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value
