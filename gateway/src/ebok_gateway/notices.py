"""The dashboard's notices: what needs the customer's attention, read from the parts the
dashboard already has (no call of its own). Pure: parts in, notices out.

Each notice is ``{kind, level, text, date, subject}``: ``kind`` a code clients may act on,
``level`` "warning" (act now), "info" or "success" (good news), ``text`` Polish for
people, ``date`` the day it is about (ISO, or null) and ``subject`` what it names (a meter,
a case, a terms version)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ebok_shared.polish import long_date

# Most pressing first: the order notices are listed in.
ORDER = (
    "block_scheduled",
    "leak_suspected",
    "reading_rejected",
    "garden_legalisation_expired",
    "evidence_needed",
    "case_answered",
    "reading_window_open",
    "reading_to_verify",
    "e_invoice_pending",
    "new_terms",
)


def _day(value: str | None) -> str:
    """'2026-11-30' (or an instant's local date) → '30 listopada 2026'."""
    if not value:
        return ""
    day = dt.date.fromisoformat(value[:10])
    return long_date(day)


def _data(view: dict[str, Any], part: str) -> dict[str, Any]:
    served = view.get(part)
    if isinstance(served, dict) and served.get("status") == "ok":
        data = served.get("data")
        if isinstance(data, dict):
            return data
    return {}


def _items(data: dict[str, Any]) -> list[dict[str, Any]]:
    items = data.get("items")
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _notice(kind: str, level: str, text: str, date: str | None, **subject: Any) -> dict[str, Any]:
    return {"kind": kind, "level": level, "text": text, "date": date, "subject": subject}


def _account(profile: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    block_on = profile.get("block_scheduled_on")
    if block_on:
        found.append(
            _notice(
                "block_scheduled",
                "warning",
                f"Konto e-BOK zostanie zablokowane {_day(block_on)}, ponieważ wygasła ostatnia "
                "umowa (regulamin, pkt II.7). Jeśli zawierasz nową umowę, konto pozostanie "
                "aktywne.",
                block_on,
            )
        )
    upcoming = (profile.get("regulations") or {}).get("upcoming")
    if isinstance(upcoming, dict):
        summary = upcoming.get("summary") or ""
        found.append(
            _notice(
                "new_terms",
                "info",
                f"Od {_day(upcoming['effective_from'])} obowiązuje nowy regulamin e-BOK "
                f"(wersja {upcoming['version']})." + (f" {summary}" if summary else ""),
                upcoming["effective_from"][:10],
                version=upcoming["version"],
            )
        )
    return found


def _meters(meters: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for meter in _items(meters):
        if meter.get("status") != "installed":
            continue
        serial = meter.get("serial")
        last = meter.get("last_reading") or {}
        if last.get("leak_suspected"):
            found.append(
                _notice(
                    "leak_suspected",
                    "warning",
                    f"Odczyt wodomierza {serial} z {_day(last['read_on'])} wskazuje na zużycie "
                    "znacznie wyższe niż zwykle. Sprawdź, czy instalacja nie przecieka.",
                    last["read_on"],
                    meter_serial=serial,
                )
            )
        if last.get("status") == "to_verify":
            found.append(
                _notice(
                    "reading_to_verify",
                    "info",
                    f"Odczyt wodomierza {serial} z {_day(last['read_on'])} czeka na sprawdzenie "
                    "przez pracownika Spółki (nietypowe zużycie).",
                    last["read_on"],
                    meter_serial=serial,
                )
            )
        garden = meter.get("garden") or {}
        if garden.get("legalisation_expired"):
            expired_on = garden.get("legalisation_expires_on")
            found.append(
                _notice(
                    "garden_legalisation_expired",
                    "warning",
                    f"Legalizacja wodomierza ogrodowego {serial} wygasła {_day(expired_on)}. "
                    "Wymień wodomierz.",
                    expired_on,
                    meter_serial=serial,
                )
            )
        sent = meter.get("last_submitted") or {}
        if sent.get("status") == "rejected":
            reason = sent.get("decision_reason")
            found.append(
                _notice(
                    "reading_rejected",
                    "warning",
                    f"Odczyt wodomierza {serial} z {_day(sent['read_on'])} został odrzucony"
                    + (f": {reason}" if reason else ".")
                    + " Podaj odczyt ponownie.",
                    sent["read_on"],
                    meter_serial=serial,
                    reading_id=sent.get("id"),
                )
            )
    window = meters.get("reading_window") or {}
    if window.get("open") and not window.get("always_open") and window.get("closes_on"):
        found.append(
            _notice(
                "reading_window_open",
                "info",
                f"Trwa okres podawania odczytów: do {_day(window['closes_on'])}.",
                window["closes_on"],
            )
        )
    return found


def _cases(cases: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for case in _items(cases):
        number, case_id = case.get("number"), case.get("id")
        if case.get("status") == "answered":
            found.append(
                _notice(
                    "case_answered",
                    "success",
                    f"Odpowiedzieliśmy w sprawie nr {number} ({case.get('kind_label')}).",
                    None,
                    case_id=case_id,
                    case_number=number,
                )
            )
        elif case.get("evidence_request") and case.get("status") != "closed":
            due = case.get("reply_due")
            found.append(
                _notice(
                    "evidence_needed",
                    "warning",
                    f"W sprawie nr {number} prosimy o uzupełnienie dowodów"
                    + (f" (termin odpowiedzi: {_day(due)})." if due else ".")
                    + " Pliki dodasz w szczegółach sprawy.",
                    due,
                    case_id=case_id,
                    case_number=number,
                )
            )
    return found


def _e_invoice(state: dict[str, Any]) -> list[dict[str, Any]]:
    pending = state.get("pending")
    if not isinstance(pending, dict) or not pending.get("email"):
        return []
    return [
        _notice(
            "e_invoice_pending",
            "info",
            f"E-faktura czeka na potwierdzenie adresu {pending['email']}: kliknij link "
            "z wiadomości, którą wysłaliśmy na ten adres.",
            None,
        )
    ]


def notices(view: dict[str, Any]) -> list[dict[str, Any]]:
    """Every notice the dashboard's parts give, most pressing first. A part that is
    missing (hidden, suspended, unavailable) gives none."""
    found = [
        *_account(_data(view, "profile")),
        *_meters(_data(view, "meters")),
        *_cases(_data(view, "open_cases")),
        *_e_invoice(_data(view, "e_invoice")),
    ]
    return sorted(found, key=lambda n: ORDER.index(n["kind"]))
