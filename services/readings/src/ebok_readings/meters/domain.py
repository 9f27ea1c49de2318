"""Rules of the meter registry: a meter's installation, removal and replacement, each with
its initial or final reading. Meter and contract rows come in as mappings (no I/O here)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ebok_shared.refusals import Refusal, invalid

from ..common.values import add_years, pl_date, pl_m3
from ..readings.domain import MeterFacts, Point, neighbours

Row = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class MeterRef:
    """A meter with its contract and client, as its events tell it."""

    serial: str
    kind: str
    contract_number: str
    client_number: str
    seal_number: str | None = None
    sealed_on: dt.date | None = None

    @classmethod
    def of(cls, meter: Row) -> MeterRef:
        return cls(
            meter["serial"],
            meter["kind"],
            meter["contract_number"],
            meter["client_number"],
            meter["seal_number"],
            meter["sealed_on"],
        )


def facts(meter: Row) -> MeterFacts:
    return MeterFacts(
        serial=meter["serial"],
        kind=meter["kind"],
        installed_on=meter["installed_on"],
        removed_on=meter["removed_on"],
        contract_from=meter["concluded_on"],
        contract_to=meter["terminated_on"],
    )


def legalisation_expires(sealed_on: dt.date | None, years: int) -> dt.date | None:
    return add_years(sealed_on, years) if sealed_on is not None else None


def not_yours(serial: str) -> Refusal:
    """A customer's meter that is not among their contracts (or does not exist)."""
    return Refusal(
        404,
        "meter-not-found",
        f"Nie znaleziono wodomierza {serial} wśród Twoich umów.",
        field="serial",
        reason="nie znaleziono wodomierza",
    )


def not_found(serial: str) -> Refusal:
    return Refusal(404, "meter-not-found", f"Nie znaleziono wodomierza {serial}.")


def removed(meter: Row) -> Refusal:
    return Refusal(
        409,
        "meter-removed",
        f"Wodomierz {meter['serial']} został zdemontowany {pl_date(meter['removed_on'])}; "
        "nie można podać dla niego nowego odczytu.",
        field="serial",
        reason="wodomierz zdemontowany",
    )


def check_readable(meter: Row, source: str, read_on: dt.date) -> None:
    """A removed meter takes no customer reading, and no reading after its removal."""
    if meter["removed_on"] is not None and (source == "customer" or read_on > meter["removed_on"]):
        raise removed(meter)


def already_registered(serial: str, field: str) -> Refusal:
    return Refusal(
        409,
        "meter-exists",
        f"Wodomierz o numerze {serial} jest już zarejestrowany.",
        field=field,
        reason="wodomierz o tym numerze jest już zarejestrowany",
    )


def check_done_on(contract: Row, done_on: dt.date, today: dt.date, field: str) -> None:
    if done_on > today:
        raise invalid(field, "data nie może być z przyszłości")
    if done_on < contract["concluded_on"]:
        raise invalid(
            field,
            f"data jest wcześniejsza niż data zawarcia umowy ({pl_date(contract['concluded_on'])})",
        )
    if contract["terminated_on"] is not None and done_on > contract["terminated_on"]:
        raise invalid(
            field,
            f"data jest późniejsza niż rozwiązanie umowy ({pl_date(contract['terminated_on'])})",
        )


def check_final(
    meter: Row,
    points: Sequence[Point],
    done_on: dt.date,
    final_value: Decimal,
    *,
    date_field: str,
    value_field: str,
) -> None:
    """A final reading on ``done_on``: the meter is installed then, no reading comes after,
    and the value is not below the last one."""
    if meter["removed_on"] is not None:
        raise removed(meter)
    if done_on < meter["installed_on"]:
        raise invalid(
            date_field,
            f"data jest wcześniejsza niż montaż wodomierza ({pl_date(meter['installed_on'])})",
        )
    previous, following = neighbours(points, done_on, "final")
    if following is not None:
        raise invalid(
            date_field,
            f"wodomierz ma późniejszy odczyt z dnia {pl_date(following.read_on)}",
        )
    if previous is not None and final_value < previous.value:
        raise invalid(
            value_field,
            f"stan końcowy {pl_m3(final_value)} jest niższy niż ostatni odczyt "
            f"{pl_m3(previous.value)} z dnia {pl_date(previous.read_on)}",
            code="reading-below-previous",
        )


def known_from_contract(existing: Row, contract_number: str, kind: str) -> bool:
    """A meter known from its contract only, whose installation the back office reports."""
    return (
        existing["initial_value"] is None
        and existing["registered_by"] == "contract"
        and existing["contract_number"] == contract_number
        and existing["kind"] == kind
        and existing["removed_on"] is None
    )


def check_installation(
    points: Sequence[Point], installed_on: dt.date, initial_value: Decimal
) -> None:
    """The installation of a meter that already has readings comes before them all."""
    if points and points[0].read_on < installed_on:
        raise invalid(
            "date", f"wodomierz ma wcześniejszy odczyt z dnia {pl_date(points[0].read_on)}"
        )
    if points and points[0].value < initial_value:
        raise invalid(
            "initial_value",
            f"stan początkowy jest wyższy niż pierwszy odczyt {pl_m3(points[0].value)}",
        )
