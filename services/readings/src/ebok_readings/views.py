"""JSON shapes of the API: rows in, dicts out (m³ as strings with three decimals)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .common.values import add_years, m3
from .garden.domain import next_reading_dates
from .readings import consumption as consumption_of
from .readings.domain import Window, WindowState

if TYPE_CHECKING:
    from .clients.use_cases import Export


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _m3(value: Decimal | None) -> str | None:
    return m3(value) if value is not None else None


def _at(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def reading(r: Any, *, operator: bool = False) -> dict[str, Any]:
    shown = {
        "id": str(r["id"]),
        "meter_serial": r["meter_serial"],
        "contract_number": r["contract_number"],
        "value": m3(r["value"]),
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


def reading_created(r: Any) -> dict[str, Any]:
    message = (
        "Odczyt przyjęty."
        if r["status"] == "accepted"
        else "Odczyt przyjęty do weryfikacji: pracownik Spółki sprawdzi nietypowe zużycie."
    )
    return {**reading(r), "message": message}


def window(state: WindowState) -> dict[str, Any]:
    return {
        "open": state.open,
        "always_open": state.open and state.current is None,
        "closes_on": _day(state.current.closes_on) if state.current else None,
        "next_opens_on": _day(state.next.opens_on) if state.next else None,
        "next_closes_on": _day(state.next.closes_on) if state.next else None,
    }


def windows(mode: str, kept: list[Window], today: WindowState) -> dict[str, Any]:
    return {
        "mode": mode,
        "windows": [
            {"opens_on": w.opens_on.isoformat(), "closes_on": w.closes_on.isoformat()} for w in kept
        ],
        "today": window(today),
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
        "last_submitted": None,
    }
    if "last_id" in m.keys() and m["last_id"] is not None:
        shown["last_reading"] = {
            "id": str(m["last_id"]),
            "value": m3(m["last_value"]),
            "read_on": m["last_read_on"].isoformat(),
            "source": m["last_source"],
            "status": m["last_status"],
            # the consumption it shows is far above the usual: a leak, perhaps
            "leak_suspected": m["last_leak_suspected"],
        }
    if "sent_id" in m.keys() and m["sent_id"] is not None:
        # the customer's most recent reading, whatever became of it (a rejected one too)
        shown["last_submitted"] = {
            "id": str(m["sent_id"]),
            "read_on": m["sent_read_on"].isoformat(),
            "status": m["sent_status"],
            "decision_reason": m["sent_decision_reason"],
        }
    if m["kind"] == "garden":
        expires = add_years(m["sealed_on"], legalisation_years) if m["sealed_on"] else None
        installed = m["removed_on"] is None
        shown["garden"] = {
            "sealed_on": _day(m["sealed_on"]),
            "legalisation_expires_on": _day(expires),
            "legalisation_expired": expires is not None and expires < today,
            "next_reading_dates": [d.isoformat() for d in next_reading_dates(today, dates)]
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
    found: dict[str, consumption_of.Month], first: str | None, last: str | None
) -> list[dict[str, Any]]:
    shown = []
    for key, month in found.items():
        if (first is not None and key < first) or (last is not None and key > last):
            continue
        average = month.average_per_day()
        shown.append(
            {
                "month": key,
                "water_m3": m3(month.water),
                "garden_m3": m3(month.garden),
                "days_measured": month.days,
                "average_per_day_m3": _m3(average),
            }
        )
    return shown


def consumption(
    found: dict[str, consumption_of.Month], first: str, last: str, contract: str | None
) -> dict[str, Any]:
    shown = months(found, first, last)
    water = sum((Decimal(m["water_m3"]) for m in shown), Decimal("0"))
    garden = sum((Decimal(m["garden_m3"]) for m in shown), Decimal("0"))
    return {
        "from": first,
        "to": last,
        "contract_number": contract,
        "unit": "m3",
        "months": shown,
        "total_water_m3": m3(water),
        "total_garden_m3": m3(garden),
    }


_EXPORTED_METER_FIELDS = (
    "serial",
    "kind",
    "contract_number",
    "installed_on",
    "initial_value",
    "removed_on",
    "final_value",
    "seal_number",
    "sealed_on",
    "replaces",
    "replaced_by",
)


def export(client_number: str, found: Export, at: dt.datetime) -> dict[str, Any]:
    def rows(records: list[Any], drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        return [{k: stringify(v) for k, v in r.items() if k not in drop} for r in records]

    return {
        "service": "readings",
        "generated_at": at.isoformat(),
        "client_number": client_number,
        "contracts": rows(found.contracts, drop=("updated_at",)),
        "meters": [{k: stringify(m[k]) for k in _EXPORTED_METER_FIELDS} for m in found.meters],
        "readings": rows(found.readings, drop=("idempotency_key",)),
        "garden_meter_requests": [
            {
                **{k: stringify(v) for k, v in r.items() if k != "idempotency_key"},
                "history": rows(found.history[r["id"]], drop=("id", "request_id")),
            }
            for r in found.requests
        ],
        # each photo's content: GET {path} (the gateway's archive puts the files beside)
        "photos": [{**p, "path": f"/me/photos/{p['id']}"} for p in rows(found.photos)],
        "reminders_sent": rows(found.reminders),
        "note": "Zdjęcia wodomierzy przechowujemy jako dowód odczytu.",
    }


def stringify(value: Any) -> Any:
    """Rows for the export: dates, times, numbers and ids as strings."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return m3(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value
