"""Rules of garden meters: a customer's request to install, replace or remove one (decided
by an operator), and the assistant's reading dates and reminders (terms III.d)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from ebok_shared.refusals import Refusal, invalid

from ..common.values import add_years

Row = Mapping[str, Any]


@dataclass(frozen=True)
class GardenRequest:
    """What a customer asks for (also rebuilt from the stored request at the decision)."""

    kind: str
    done_on: dt.date
    contract_number: str | None = None
    new_serial: str | None = None
    initial_value: Decimal | None = None
    seal_number: str | None = None
    old_serial: str | None = None
    final_value: Decimal | None = None

    @classmethod
    def of(cls, q: Row) -> GardenRequest:
        return cls(
            kind=q["kind"],
            done_on=q["done_on"],
            contract_number=q["contract_number"],
            new_serial=q["new_serial"],
            initial_value=q["initial_value"],
            seal_number=q["seal_number"],
            old_serial=q["old_serial"],
            final_value=q["final_value"],
        )


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """A stored request, as its events tell it."""

    id: uuid.UUID
    client_number: str
    contract_number: str
    kind: str
    done_on: dt.date
    new_serial: str | None
    old_serial: str | None
    status: str
    reason: str | None
    submitted_at: dt.datetime
    decided_at: dt.datetime | None

    @classmethod
    def of(cls, q: Row) -> RequestRecord:
        return cls(
            q["id"],
            q["client_number"],
            q["contract_number"],
            q["kind"],
            q["done_on"],
            q["new_serial"],
            q["old_serial"],
            q["status"],
            q["reason"],
            q["submitted_at"],
            q["decided_at"],
        )


def check_own_garden_meter(meter: Row | None) -> Row:
    if meter is None:
        raise invalid(
            "old_serial",
            "nie znaleziono takiego wodomierza wśród Twoich umów",
            code="meter-not-found",
        )
    if meter["kind"] != "garden":
        raise invalid(
            "old_serial",
            "to wodomierz główny; jego wymianę lub demontaż przeprowadza Spółka",
            code="not-a-garden-meter",
        )
    return meter


def choose_contract(contracts: Sequence[Row], wanted: str | None, today: dt.date) -> Row:
    """The contract a new garden meter serves: the one named, or the client's only live one."""
    if wanted is not None:
        found = [c for c in contracts if c["contract_number"] == wanted]
        if not found:
            raise invalid(
                "contract_number",
                "nie znaleziono takiej umowy wśród Twoich umów",
                code="contract-not-found",
            )
        return found[0]
    active = [c for c in contracts if c["terminated_on"] is None or c["terminated_on"] >= today]
    if not active:
        raise Refusal(
            409,
            "no-active-contract",
            "Nie masz czynnej umowy, do której można przypisać wodomierz ogrodowy.",
            field="contract_number",
            reason="brak czynnej umowy",
        )
    if len(active) > 1:
        raise invalid(
            "contract_number", "masz kilka umów; wskaż, której dotyczy wodomierz ogrodowy"
        )
    return active[0]


def check_new_serial_differs(g: GardenRequest) -> None:
    if g.new_serial == g.old_serial:
        raise invalid("new_serial", "nowy wodomierz musi mieć inny numer niż wymieniany")


def pending(serial: str, field: str) -> Refusal:
    return Refusal(
        409,
        "request-pending",
        f"Zgłoszenie dotyczące wodomierza {serial} czeka już na rozpatrzenie.",
        field=field,
        reason="zgłoszenie dotyczące tego wodomierza czeka na rozpatrzenie",
    )


def not_found() -> Refusal:
    return Refusal(404, "request-not-found", "Nie znaleziono zgłoszenia.")


def check_undecided(q: Row | None) -> Row:
    if q is None:
        raise not_found()
    if q["status"] != "submitted":
        raise Refusal(409, "request-decided", "To zgłoszenie zostało już rozpatrzone.")
    return q


def cannot_be_applied(exc: Refusal) -> Refusal:
    """A request whose rules no longer hold at the decision: the operator rejects it."""
    return Refusal(
        409,
        "request-cannot-be-applied",
        "Zgłoszenia nie można przyjąć: " + exc.reason + ". Odrzuć je z podaniem powodu.",
        field=exc.field,
        reason=exc.reason,
    )


# -- garden-meter assistant ---------------------------------------------------------------


def month_days(values: Sequence[str]) -> list[tuple[int, int]]:
    return sorted((int(v[:2]), int(v[3:])) for v in values)


def next_reading_dates(today: dt.date, dates: Sequence[str], count: int = 2) -> list[dt.date]:
    """The next ``count`` mandatory garden-meter reading dates from ``today`` on."""
    found: list[dt.date] = []
    year = today.year
    while len(found) < count and dates:
        for month, day in month_days(dates):
            due = dt.date(year, month, day)
            if due >= today:
                found.append(due)
                if len(found) == count:
                    break
        year += 1
    return found


@dataclass(frozen=True, slots=True)
class Reminder:
    kind: Literal["reading", "legalisation"]
    due_on: dt.date


def reminders_due(
    today: dt.date,
    *,
    installed_on: dt.date,
    sealed_on: dt.date | None,
    last_read_on: dt.date | None,
    dates: Sequence[str],
    reading_lead_days: int,
    legalisation_years: int,
    legalisation_lead_days: int,
) -> list[Reminder]:
    """Reminders an installed garden meter is due today: before each mandatory reading date
    (unless a reading was already given in the lead time) and before its legalisation
    expires. A day the scheduler missed is caught up while the due date has not passed."""
    due: list[Reminder] = []
    for due_on in next_reading_dates(today, dates, count=len(dates) or 1):
        starts = due_on - dt.timedelta(days=reading_lead_days)
        if starts <= today <= due_on and installed_on < due_on:
            if last_read_on is None or last_read_on < starts:
                due.append(Reminder("reading", due_on))
    if sealed_on is not None:
        expires = add_years(sealed_on, legalisation_years)
        if expires - dt.timedelta(days=legalisation_lead_days) <= today <= expires:
            due.append(Reminder("legalisation", expires))
    return due
