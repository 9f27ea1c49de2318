"""Billing's own run (for a demo, and for utilities without a back office): an invoice for
each accepted main-meter reading, priced by the contract's tariff.

Water is the main meter's consumption since its previous reading; water that went through
a garden meter (a sub-meter behind the main one) since it was last billed is not billed as
sewage. A garden reading alone is recorded and waits for the next main reading. Enabled by
``EBOK_BILLING_RUN=true``; otherwise billing does not subscribe to readings at all. Also
the tariffs the run prices by, which operators keep.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

from ebok_shared.bus import Event, Outbox
from ebok_shared.clock import clock
from ebok_shared.logs import get_logger

from .. import events as ev
from ..clients import repository as clients_repo
from ..clients.domain import Buyer
from ..common.connection import Conn, Record
from ..e_invoice import repository as e_invoice_repo
from ..ledger import repository as ledger_repo
from ..ledger.domain import InvoiceData, invoice_number_for
from . import repository as repo
from .domain import Tariff, price_consumption

log = get_logger(__name__)


async def tariffs(conn: Conn) -> list[Record]:
    return await repo.tariffs(conn)


async def put_tariff(conn: Conn, tariff: Tariff, by: str) -> None:
    """Add a tariff, or replace the one of the same group and day; either way the change is
    kept with who made it and when."""
    async with conn.transaction():
        await repo.put_tariff(conn, tariff, by, clock.now())


async def tariff_changes(conn: Conn, limit: int, offset: int) -> tuple[int, list[Record]]:
    """Every tariff change, the newest first."""
    return await repo.tariff_changes(conn, limit, offset)


class BillingRun:
    """The consumer of ``readings.reading.accepted`` (wired by app.py when enabled)."""

    def __init__(self, outbox: Outbox, payment_terms_days: int) -> None:
        self.outbox = outbox
        self.payment_terms = timedelta(days=payment_terms_days)

    async def on_reading_accepted(self, conn: Conn, event: Event) -> None:
        p = event.payload
        value, read_on = Decimal(p["value"]), date.fromisoformat(p["read_on"])
        reading_id = uuid.UUID(p["reading_id"])
        added = await repo.add_reading(
            conn,
            reading_id=reading_id,
            meter_serial=p["meter_serial"],
            contract_number=p["contract_number"],
            client_number=p["client_number"],
            value=value,
            read_on=read_on,
            kind=p["kind"],
        )
        if not added:
            return  # this reading was recorded before
        if p["kind"] != "main":
            return
        contract = await clients_repo.contract_client_kind(conn, p["contract_number"])
        if (
            contract is None
            or contract["client_number"] != p["client_number"]
            or p["meter_serial"] not in contract["meter_serials"]
        ):
            log.warning(
                "reading for a meter billing does not know; recorded, not billed",
                contract=p["contract_number"],
                meter=p["meter_serial"],
            )
            return
        previous = await repo.previous_reading(conn, p["meter_serial"], read_on, reading_id)
        if previous is None:
            return  # the meter's first reading is where counting starts
        main_m3 = value - previous["value"]
        if main_m3 < 0:
            log.warning("main meter went backwards; not billed", meter=p["meter_serial"])
            return
        garden_m3, garden_ids = await self._garden(conn, p["contract_number"], read_on)
        tariff_row = await repo.tariff_on(conn, contract["tariff_group"], read_on)
        if tariff_row is None:
            log.warning(
                "no tariff for the contract's group; reading not billed",
                tariff_group=contract["tariff_group"],
            )
            return
        tariff = Tariff(
            tariff_row["tariff_group"],
            tariff_row["valid_from"],
            tariff_row["water_price"],
            tariff_row["sewage_price"],
            tariff_row["subscription_fee"],
            tariff_row["vat_rate"],
        )
        lines = price_consumption(main_m3, garden_m3, tariff)
        issue = clock.today()
        client_number = contract["client_number"]
        prefix = f"{client_number}{issue:%y%m}"
        number = invoice_number_for(
            client_number,
            issue,
            await ledger_repo.next_invoice_sequence(conn, client_number, prefix),
        )
        period_from = min(previous["read_on"] + timedelta(days=1), read_on)
        row = InvoiceData(
            invoice_number=number,
            client_number=client_number,
            contract_number=contract["contract_number"],
            issue_date=issue,
            due_date=issue + self.payment_terms,
            period_from=period_from,
            period_to=read_on,
            lines=lines,
            net=lines.net,
            vat=lines.vat,
            gross=lines.gross,
        )
        e_mail = await e_invoice_repo.e_invoice_addresses(conn, [client_number])
        buyer = Buyer(
            contract["client_name"],
            contract["client_street"],
            contract["client_postal_code"],
            contract["client_city"],
            contract["nip"],
        )
        await ledger_repo.insert_invoices(
            conn, [row], e_mail, "billing-run", {client_number: buyer}
        )
        await repo.mark_billed(conn, [reading_id, *garden_ids], number)
        await self.outbox.add_events(
            conn,
            [
                ev.event(
                    ev.INVOICE_ISSUED,
                    ev.invoice_issued(
                        number,
                        client_number,
                        issue,
                        row.due_date,
                        row.net,
                        row.vat,
                        row.gross,
                        None,
                        e_mail.get(client_number),
                    ),
                )
            ],
        )
        log.info(
            "invoice issued from reading", invoice=number, water=str(main_m3), garden=str(garden_m3)
        )

    async def _garden(
        self, conn: Conn, contract_number: str, upto: date
    ) -> tuple[Decimal, list[uuid.UUID]]:
        """Water through garden meters since each was last billed (their unbilled readings)."""
        unbilled = await repo.unbilled_garden_readings(conn, contract_number, upto)
        total = Decimal("0.000")
        by_meter: dict[str, list[Record]] = {}
        for r in unbilled:
            by_meter.setdefault(r["meter_serial"], []).append(r)
        ids: list[uuid.UUID] = []
        for serial, readings in by_meter.items():
            ids.extend(r["reading_id"] for r in readings)
            base = await repo.garden_before(
                conn, serial, readings[0]["read_on"], [r["reading_id"] for r in readings]
            )
            start = base["value"] if base is not None else readings[0]["value"]
            if readings[-1]["value"] >= start:  # a meter's first reading is its start
                total += readings[-1]["value"] - start
        return total, ids
