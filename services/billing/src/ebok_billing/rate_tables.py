"""The two rate tables operators keep as data: NBP reference rates (interest) and NBP
average EUR rates (the recovery compensation). Each use case runs in one transaction."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from . import repository as repo
from .common import OperationError
from .compensation import EurRate, polish_holidays
from .rates import RateRow, RateTable, RateTableError
from .rates import load_default_rate_table as packaged_rates


async def load_rate_table(conn: repo.Conn) -> RateTable:
    rows = await repo.rate_rows(conn)
    if not rows:
        return packaged_rates()
    return RateTable.from_rows(
        RateRow(r["effective_from"], r["reference_rate_percent"]) for r in rows
    )


async def seed_rates(conn: repo.Conn) -> int:
    """Add the packaged NBP rows later than the database's last row (all, when empty)."""
    rows = await repo.rate_rows(conn)
    last = rows[-1]["effective_from"] if rows else None
    new = [
        (r.effective_from, r.reference_rate_percent)
        for r in packaged_rates().rows
        if last is None or r.effective_from > last
    ]
    if new:
        await repo.add_rates(conn, new, "packaged")
    return len(new)


async def add_rate(conn: repo.Conn, effective_from: date, rate: Decimal, added_by: str) -> None:
    async with conn.transaction():
        await conn.execute("LOCK TABLE reference_rates IN SHARE ROW EXCLUSIVE MODE")
        table = await load_rate_table(conn)
        try:
            table.with_row(RateRow(effective_from, rate))
        except RateTableError:
            raise OperationError(
                409,
                "rate-out-of-order",
                f"Nowa stopa musi obowiązywać od dnia późniejszego niż ostatnia w tabeli "
                f"({table.rows[-1].effective_from.isoformat()}).",
                "effective_from",
            ) from None
        await repo.add_rates(conn, [(effective_from, rate)], added_by)


async def load_eur_rates(conn: repo.Conn) -> dict[date, EurRate]:
    return {
        r["rate_date"]: EurRate(r["rate_date"], r["eur_pln"], r["table_number"])
        for r in await repo.eur_rates(conn)
    }


async def add_eur_rate(
    conn: repo.Conn, rate_date: date, eur_pln: Decimal, table_number: str | None, added_by: str
) -> bool:
    """Add the NBP average EUR rate of one day; True when added, False when the table
    already holds exactly this rate. A day's rate, once there, is never changed."""
    if rate_date.weekday() >= 5 or rate_date in polish_holidays(rate_date.year):
        raise OperationError(
            422,
            "not-a-working-day",
            "NBP publikuje średnie kursy walut tylko w dni robocze; "
            f"{rate_date.isoformat()} nie jest dniem roboczym.",
            "rate_date",
        )
    if table_number is not None and not table_number.endswith(f"/{rate_date.year}"):
        raise OperationError(
            422,
            "table-year-mismatch",
            f"Numer tabeli NBP musi kończyć się rokiem kursu ({rate_date.year}).",
            "table_number",
        )
    async with conn.transaction():
        await conn.execute("LOCK TABLE eur_rates IN SHARE ROW EXCLUSIVE MODE")
        existing = await repo.eur_rate(conn, rate_date)
        if existing is not None:
            if existing["eur_pln"] == eur_pln and existing["table_number"] == table_number:
                return False
            raise OperationError(
                409,
                "eur-rate-exists",
                f"Kurs EUR z dnia {rate_date.isoformat()} jest już w tabeli "
                f"({existing['eur_pln']:.4f} zł) i nie może zostać zmieniony.",
                "rate_date",
            )
        await repo.add_eur_rate(conn, rate_date, eur_pln, table_number, added_by)
    return True
