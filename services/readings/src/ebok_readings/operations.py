"""What the service does, each inside the caller's transaction with its events in the outbox.

Callers (customer and operator handlers, the back-office feed, the CLI) pass a connection in
a transaction and the outbox; a refusal is a ``domain.Refusal`` naming the field and the
reason, which the caller turns into a problem or a line error.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
from ebok_shared.bus import Outbox

from . import domain
from . import events as ev
from . import repository as repo
from .domain import Point, Refusal, invalid, pl_date
from .settings import ReadingsSettings


@dataclass(frozen=True)
class Rules:
    thresholds: domain.Thresholds
    baseline_window_days: int
    baseline_min_days: int
    legalisation_years: int

    @classmethod
    def from_settings(cls, s: ReadingsSettings) -> Rules:
        def d(value: float) -> Decimal:
            return Decimal(str(value))

        return cls(
            domain.Thresholds(
                ceiling=d(s.plausible_daily_ceiling_m3),
                factor=d(s.plausible_factor),
                min_excess=d(s.plausible_min_excess_m3),
                leak_factor=d(s.leak_factor),
                leak_min_excess=d(s.leak_min_excess_m3),
            ),
            s.baseline_window_days,
            s.baseline_min_days,
            s.legalisation_years,
        )


def facts(meter: Any) -> domain.MeterFacts:
    return domain.MeterFacts(
        serial=meter["serial"],
        kind=meter["kind"],
        installed_on=meter["installed_on"],
        removed_on=meter["removed_on"],
        contract_from=meter["concluded_on"],
        contract_to=meter["terminated_on"],
    )


def _points(rows: list[asyncpg.Record], without: uuid.UUID | None = None) -> list[Point]:
    return [Point(r["read_on"], r["value"], r["role"]) for r in rows if r["id"] != without]


def neighbours(
    points: list[Point], read_on: dt.date, role: str
) -> tuple[Point | None, Point | None]:
    """The register just before (same day included for a later role) and just after."""
    key = (read_on, domain.ROLE_ORDER[role])
    before = [p for p in points if p.key <= key]
    after = [p for p in points if p.key > key]
    return (before[-1] if before else None, after[0] if after else None)


def meter_removed_refusal(meter: Any) -> Refusal:
    return Refusal(
        409,
        "meter-removed",
        f"Wodomierz {meter['serial']} został zdemontowany {pl_date(meter['removed_on'])}; "
        "nie można podać dla niego nowego odczytu.",
        field="serial",
        reason="wodomierz zdemontowany",
    )


async def record_reading(
    conn: asyncpg.Connection,
    outbox: Outbox,
    rules: Rules,
    meter: Any,
    *,
    value: Decimal,
    read_on: dt.date,
    source: str,
    submitted_by: str,
    today: dt.date,
    now: dt.datetime,
    confirm_unusual: bool = False,
    photo_id: uuid.UUID | None = None,
    idempotency_key: str | None = None,
) -> asyncpg.Record:
    """A regular reading of ``meter`` (locked by the caller). A customer's second reading of
    a day replaces the first unless billed; a customer's implausible reading needs
    ``confirm_unusual`` and then waits for an operator (to_verify)."""
    if meter["removed_on"] is not None and (source == "customer" or read_on > meter["removed_on"]):
        raise meter_removed_refusal(meter)
    domain.check_date(facts(meter), read_on, today)
    rows = await repo.accepted_points(conn, meter["serial"])
    replaced = None
    if source == "customer":
        replaced = await repo.live_customer_reading(conn, meter["serial"], read_on)
        if replaced is not None and replaced["billed_at"] is not None:
            raise Refusal(
                409,
                "reading-already-billed",
                f"Odczyt z dnia {pl_date(read_on)} został już rozliczony na fakturze; "
                "nie można go zastąpić.",
                field="read_on",
                reason="odczyt z tego dnia jest już rozliczony",
            )
    points = _points(rows, replaced["id"] if replaced is not None else None)
    previous, following = neighbours(points, read_on, "regular")
    domain.check_order(value, previous, following)

    earlier = [p for p in points if p.read_on < read_on] or [
        p for p in points if p.key < (read_on, 1)
    ]
    daily = domain.daily(earlier[-1], value, read_on) if earlier else None
    base = (
        domain.baseline(
            points, earlier[-1].read_on, rules.baseline_window_days, rules.baseline_min_days
        )
        if earlier
        else None
    )
    verdict = domain.assess(meter["kind"], daily, base, rules.thresholds)
    status = "accepted"
    if verdict.unusual and source == "customer":
        if not confirm_unusual:
            raise unusual_refusal(verdict)
        status = "to_verify"

    if replaced is not None:
        await repo.start_superseding(conn, replaced["id"], now)
    row = await repo.insert_reading(
        conn,
        id=uuid.uuid4(),
        meter_serial=meter["serial"],
        contract_number=meter["contract_number"],
        client_number=meter["client_number"],
        value=value,
        read_on=read_on,
        source=source,
        role="regular",
        status=status,
        unusual=verdict.unusual,
        daily_m3=verdict.daily,
        baseline_m3=verdict.baseline,
        leak_suspected=verdict.leak,
        submitted_by=submitted_by,
        submitted_at=now,
        photo_id=photo_id,
        idempotency_key=idempotency_key,
    )
    if replaced is not None:
        await repo.finish_superseding(conn, replaced["id"], row["id"])
    if status == "accepted":
        await ev.publish(conn, outbox, ev.READING_ACCEPTED, ev.reading_accepted(row, meter["kind"]))
    else:
        await ev.publish(
            conn, outbox, ev.READING_TO_VERIFY, ev.reading_to_verify(row, meter["kind"])
        )
    if verdict.leak and verdict.daily is not None and verdict.baseline is not None:
        await ev.publish(
            conn, outbox, ev.LEAK_SUSPECTED, ev.leak_suspected(row, verdict.daily, verdict.baseline)
        )
    return row


def unusual_refusal(verdict: domain.Assessment) -> Refusal:
    assert verdict.daily is not None
    compared = (
        f"Twoje dotychczasowe średnie zużycie to {domain.pl_m3(verdict.baseline)} na dobę. "
        if verdict.baseline is not None
        else ""
    )
    return Refusal(
        422,
        "unusual-consumption",
        f"Podany stan oznacza zużycie {domain.pl_m3(verdict.daily)} na dobę, znacznie więcej niż "
        f"zwykle. {compared}Sprawdź stan wodomierza; jeśli jest prawidłowy, potwierdź go "
        "(confirm_unusual: true) — odczyt zostanie wtedy sprawdzony przez pracownika Spółki.",
        field="value",
        reason="nietypowo wysokie zużycie; wymaga potwierdzenia (confirm_unusual)",
        daily_consumption=domain.m3(verdict.daily),
        baseline_daily=domain.m3(verdict.baseline) if verdict.baseline is not None else None,
    )


async def decide_reading(
    conn: asyncpg.Connection,
    outbox: Outbox,
    reading_id: uuid.UUID,
    *,
    accept: bool,
    reason: str | None,
    by: str,
    now: dt.datetime,
) -> asyncpg.Record:
    """An operator's decision on a reading waiting for verification."""
    row = await repo.reading(conn, reading_id, lock=True)
    if row is None:
        raise Refusal(404, "reading-not-found", "Nie znaleziono odczytu.")
    if row["status"] != "to_verify" or row["superseded_at"] is not None:
        raise Refusal(
            409,
            "reading-not-waiting",
            "Ten odczyt nie czeka na weryfikację (został już rozpatrzony lub zastąpiony).",
        )
    await repo.meter(conn, row["meter_serial"], lock=True)
    if accept:
        points = _points(await repo.accepted_points(conn, row["meter_serial"]))
        previous, following = neighbours(points, row["read_on"], row["role"])
        try:
            domain.check_order(row["value"], previous, following)
        except Refusal as exc:
            raise Refusal(
                409,
                "reading-inconsistent",
                "Odczytu nie można przyjąć: " + exc.reason + ". Odrzuć go z podaniem powodu.",
                field="decision",
                reason=exc.reason,
            ) from None
    status = "accepted" if accept else "rejected"
    await repo.decide_reading(conn, reading_id, status, by, reason, now)
    decided = await repo.reading(conn, reading_id)
    assert decided is not None
    if accept:
        await ev.publish(
            conn, outbox, ev.READING_ACCEPTED, ev.reading_accepted(decided, row["kind"])
        )
    else:
        await ev.publish(
            conn,
            outbox,
            ev.READING_REJECTED,
            ev.reading_rejected(decided, row["kind"], reason or ""),
        )
    return decided


# -- the meter registry -------------------------------------------------------------------------


async def _register_reading(
    conn: asyncpg.Connection,
    outbox: Outbox,
    meter: Any,
    *,
    value: Decimal,
    read_on: dt.date,
    role: str,
    source: str,
    submitted_by: str,
    now: dt.datetime,
    photo_id: uuid.UUID | None = None,
) -> None:
    row = await repo.insert_reading(
        conn,
        id=uuid.uuid4(),
        meter_serial=meter["serial"],
        contract_number=meter["contract_number"],
        client_number=meter["client_number"],
        value=value,
        read_on=read_on,
        source=source,
        role=role,
        status="accepted",
        submitted_by=submitted_by,
        submitted_at=now,
        photo_id=photo_id,
    )
    await ev.publish(conn, outbox, ev.READING_ACCEPTED, ev.reading_accepted(row, meter["kind"]))


async def check_new_serial(conn: asyncpg.Connection, serial: str, field: str) -> None:
    if await repo.meter(conn, serial) is not None:
        raise Refusal(
            409,
            "meter-exists",
            f"Wodomierz o numerze {serial} jest już zarejestrowany.",
            field=field,
            reason="wodomierz o tym numerze jest już zarejestrowany",
        )


def check_done_on(contract: Any, done_on: dt.date, today: dt.date, field: str) -> None:
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


async def check_final(
    conn: asyncpg.Connection,
    meter: Any,
    done_on: dt.date,
    final_value: Decimal,
    *,
    date_field: str,
    value_field: str,
) -> None:
    """A final reading on ``done_on``: the meter is installed then, no reading comes after,
    and the value is not below the last one."""
    if meter["removed_on"] is not None:
        raise meter_removed_refusal(meter)
    if done_on < meter["installed_on"]:
        raise invalid(
            date_field,
            f"data jest wcześniejsza niż montaż wodomierza ({pl_date(meter['installed_on'])})",
        )
    points = _points(await repo.accepted_points(conn, meter["serial"]))
    previous, following = neighbours(points, done_on, "final")
    if following is not None:
        raise invalid(
            date_field,
            f"wodomierz ma późniejszy odczyt z dnia {pl_date(following.read_on)}",
        )
    if previous is not None and final_value < previous.value:
        raise invalid(
            value_field,
            f"stan końcowy {domain.pl_m3(final_value)} jest niższy niż ostatni odczyt "
            f"{domain.pl_m3(previous.value)} z dnia {pl_date(previous.read_on)}",
            code="reading-below-previous",
        )


async def install_meter(
    conn: asyncpg.Connection,
    outbox: Outbox,
    rules: Rules,
    *,
    serial: str,
    kind: str,
    contract: Any,
    installed_on: dt.date,
    initial_value: Decimal,
    seal_number: str | None,
    source: str,
    by: str,
    now: dt.datetime,
    replaces: str | None = None,
    photo_id: uuid.UUID | None = None,
    announce: bool = True,
) -> Any:
    sealed_on = installed_on if seal_number else None
    existing = await repo.meter(conn, serial, lock=True)
    if existing is not None:
        # A meter known from its contract only: the back office reports its installation.
        if not (
            existing["initial_value"] is None
            and existing["registered_by"] == "contract"
            and existing["contract_number"] == contract["contract_number"]
            and existing["kind"] == kind
            and existing["removed_on"] is None
        ):
            await check_new_serial(conn, serial, "serial")
        points = _points(await repo.accepted_points(conn, serial))
        if points and points[0].read_on < installed_on:
            raise invalid(
                "date", f"wodomierz ma wcześniejszy odczyt z dnia {pl_date(points[0].read_on)}"
            )
        if points and points[0].value < initial_value:
            raise invalid(
                "initial_value",
                f"stan początkowy jest wyższy niż pierwszy odczyt {domain.pl_m3(points[0].value)}",
            )
        await repo.complete_installation(
            conn, serial, installed_on, initial_value, seal_number, sealed_on, by
        )
    else:
        await repo.insert_meter(
            conn,
            serial=serial,
            kind=kind,
            contract_number=contract["contract_number"],
            installed_on=installed_on,
            initial_value=initial_value,
            seal_number=seal_number,
            sealed_on=sealed_on,
            replaces=replaces,
            registered_by=by,
        )
    meter = await repo.meter(conn, serial)
    assert meter is not None
    await _register_reading(
        conn,
        outbox,
        meter,
        value=initial_value,
        read_on=installed_on,
        role="initial",
        source=source,
        submitted_by=by,
        now=now,
        photo_id=photo_id,
    )
    expires = domain.add_years(sealed_on, rules.legalisation_years) if sealed_on else None
    if announce:
        await ev.publish(
            conn,
            outbox,
            ev.METER_INSTALLED,
            ev.meter_installed(
                serial,
                kind,
                contract["contract_number"],
                contract["client_number"],
                installed_on,
                initial_value,
                seal_number,
                expires,
            ),
        )
    return meter


async def remove_meter(
    conn: asyncpg.Connection,
    outbox: Outbox,
    meter: Any,
    *,
    removed_on: dt.date,
    final_value: Decimal,
    source: str,
    by: str,
    now: dt.datetime,
    replaced_by: str | None = None,
    photo_id: uuid.UUID | None = None,
    announce: bool = True,
) -> None:
    """Checked by the caller with ``check_final``."""
    await _register_reading(
        conn,
        outbox,
        meter,
        value=final_value,
        read_on=removed_on,
        role="final",
        source=source,
        submitted_by=by,
        now=now,
        photo_id=photo_id,
    )
    await repo.mark_removed(conn, meter["serial"], removed_on, final_value, replaced_by)
    if announce:
        await ev.publish(
            conn,
            outbox,
            ev.METER_REMOVED,
            ev.meter_removed(
                meter["serial"],
                meter["kind"],
                meter["contract_number"],
                meter["client_number"],
                removed_on,
                final_value,
            ),
        )


async def replace_meter(
    conn: asyncpg.Connection,
    outbox: Outbox,
    rules: Rules,
    old: Any,
    *,
    new_serial: str,
    replaced_on: dt.date,
    final_value: Decimal,
    initial_value: Decimal,
    seal_number: str | None,
    source: str,
    by: str,
    now: dt.datetime,
    photo_id: uuid.UUID | None = None,
) -> None:
    """Checked by the caller (``check_final`` on the old meter, ``check_new_serial``)."""
    await remove_meter(
        conn,
        outbox,
        old,
        removed_on=replaced_on,
        final_value=final_value,
        source=source,
        by=by,
        now=now,
        photo_id=photo_id,
        announce=False,
    )
    contract = await repo.contract(conn, old["contract_number"])
    await install_meter(
        conn,
        outbox,
        rules,
        serial=new_serial,
        kind=old["kind"],
        contract=contract,
        installed_on=replaced_on,
        initial_value=initial_value,
        seal_number=seal_number,
        source=source,
        by=by,
        now=now,
        replaces=old["serial"],
        photo_id=photo_id,
        announce=False,
    )
    await repo.set_replaced_by(conn, old["serial"], new_serial)
    expires = domain.add_years(replaced_on, rules.legalisation_years) if seal_number else None
    await ev.publish(
        conn,
        outbox,
        ev.METER_REPLACED,
        ev.meter_replaced(
            old["serial"],
            new_serial,
            old["kind"],
            old["contract_number"],
            old["client_number"],
            replaced_on,
            final_value,
            initial_value,
            seal_number,
            expires,
        ),
    )


# -- garden-meter requests ----------------------------------------------------------------------


@dataclass(frozen=True)
class GardenRequest:
    kind: str
    done_on: dt.date
    contract_number: str | None = None
    new_serial: str | None = None
    initial_value: Decimal | None = None
    seal_number: str | None = None
    old_serial: str | None = None
    final_value: Decimal | None = None


async def _own_garden_meter(
    conn: asyncpg.Connection, client_number: str, serial: str, *, lock: bool = False
) -> Any:
    meter = await repo.client_meter(conn, serial, client_number, lock=lock)
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


async def _request_contract(
    conn: asyncpg.Connection, client_number: str, wanted: str | None, today: dt.date
) -> Any:
    contracts = await repo.client_contracts(conn, client_number)
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


async def _check_no_open_request(conn: asyncpg.Connection, serial: str, field: str) -> None:
    if await repo.open_request_for(conn, serial) is not None:
        raise Refusal(
            409,
            "request-pending",
            f"Zgłoszenie dotyczące wodomierza {serial} czeka już na rozpatrzenie.",
            field=field,
            reason="zgłoszenie dotyczące tego wodomierza czeka na rozpatrzenie",
        )


async def check_garden_request(
    conn: asyncpg.Connection,
    client_number: str,
    g: GardenRequest,
    today: dt.date,
    *,
    exclude_open: uuid.UUID | None = None,
) -> Any:
    """Every rule a garden-meter request must meet (again at the operator's decision).
    Returns the contract it concerns."""
    old = None
    if g.kind in ("replacement", "removal"):
        assert g.old_serial is not None and g.final_value is not None
        old = await _own_garden_meter(conn, client_number, g.old_serial, lock=True)
        contract = await repo.contract(conn, old["contract_number"])
        check_done_on(contract, g.done_on, today, "done_on")
        await check_final(
            conn, old, g.done_on, g.final_value, date_field="done_on", value_field="final_value"
        )
        if exclude_open is None:
            await _check_no_open_request(conn, g.old_serial, "old_serial")
    else:
        contract = await _request_contract(conn, client_number, g.contract_number, today)
        check_done_on(contract, g.done_on, today, "done_on")
    if g.kind in ("installation", "replacement"):
        assert g.new_serial is not None
        if g.new_serial == g.old_serial:
            raise invalid("new_serial", "nowy wodomierz musi mieć inny numer niż wymieniany")
        await check_new_serial(conn, g.new_serial, "new_serial")
        if exclude_open is None:
            await _check_no_open_request(conn, g.new_serial, "new_serial")
    return contract


async def submit_garden_request(
    conn: asyncpg.Connection,
    outbox: Outbox,
    client_number: str,
    g: GardenRequest,
    *,
    today: dt.date,
    now: dt.datetime,
    photo_id: uuid.UUID | None,
    idempotency_key: str | None,
) -> asyncpg.Record:
    contract = await check_garden_request(conn, client_number, g, today)
    by = f"customer:{client_number}"
    row = await repo.insert_request(
        conn,
        id=uuid.uuid4(),
        client_number=client_number,
        contract_number=contract["contract_number"],
        kind=g.kind,
        status="submitted",
        done_on=g.done_on,
        new_serial=g.new_serial,
        initial_value=g.initial_value,
        seal_number=g.seal_number,
        old_serial=g.old_serial,
        final_value=g.final_value,
        photo_id=photo_id,
        idempotency_key=idempotency_key,
        submitted_by=by,
        submitted_at=now,
    )
    await repo.add_history(conn, row["id"], "submitted", now, by, None)
    await ev.publish(conn, outbox, ev.REQUEST_SUBMITTED, ev.request_submitted(row))
    return row


async def decide_garden_request(
    conn: asyncpg.Connection,
    outbox: Outbox,
    rules: Rules,
    request_id: uuid.UUID,
    *,
    accept: bool,
    reason: str | None,
    by: str,
    today: dt.date,
    now: dt.datetime,
) -> asyncpg.Record:
    """Accepting changes the meter registry (its readings then lower the sewage billed)."""
    q = await repo.request(conn, request_id, lock=True)
    if q is None:
        raise Refusal(404, "request-not-found", "Nie znaleziono zgłoszenia.")
    if q["status"] != "submitted":
        raise Refusal(409, "request-decided", "To zgłoszenie zostało już rozpatrzone.")
    if accept:
        g = GardenRequest(
            kind=q["kind"],
            done_on=q["done_on"],
            contract_number=q["contract_number"],
            new_serial=q["new_serial"],
            initial_value=q["initial_value"],
            seal_number=q["seal_number"],
            old_serial=q["old_serial"],
            final_value=q["final_value"],
        )
        try:
            contract = await check_garden_request(
                conn, q["client_number"], g, today, exclude_open=q["id"]
            )
        except Refusal as exc:
            raise Refusal(
                409,
                "request-cannot-be-applied",
                "Zgłoszenia nie można przyjąć: " + exc.reason + ". Odrzuć je z podaniem powodu.",
                field=exc.field,
                reason=exc.reason,
            ) from None
        await _apply_request(conn, outbox, rules, q, contract, now)
    status = "accepted" if accept else "rejected"
    await repo.decide_request(conn, request_id, status, by, reason, now)
    await repo.add_history(conn, request_id, status, now, by, reason)
    decided = await repo.request(conn, request_id)
    assert decided is not None
    await ev.publish(conn, outbox, ev.REQUEST_DECIDED, ev.request_decided(decided))
    return decided


async def _apply_request(
    conn: asyncpg.Connection,
    outbox: Outbox,
    rules: Rules,
    q: Any,
    contract: Any,
    now: dt.datetime,
) -> None:
    by = q["submitted_by"]
    if q["kind"] == "installation":
        await install_meter(
            conn,
            outbox,
            rules,
            serial=q["new_serial"],
            kind="garden",
            contract=contract,
            installed_on=q["done_on"],
            initial_value=q["initial_value"],
            seal_number=q["seal_number"],
            source="customer",
            by=by,
            now=now,
            photo_id=q["photo_id"],
        )
        return
    old = await repo.meter(conn, q["old_serial"], lock=True)
    if q["kind"] == "replacement":
        await replace_meter(
            conn,
            outbox,
            rules,
            old,
            new_serial=q["new_serial"],
            replaced_on=q["done_on"],
            final_value=q["final_value"],
            initial_value=q["initial_value"],
            seal_number=q["seal_number"],
            source="customer",
            by=by,
            now=now,
            photo_id=q["photo_id"],
        )
    else:
        await remove_meter(
            conn,
            outbox,
            old,
            removed_on=q["done_on"],
            final_value=q["final_value"],
            source="customer",
            by=by,
            now=now,
            photo_id=q["photo_id"],
        )
