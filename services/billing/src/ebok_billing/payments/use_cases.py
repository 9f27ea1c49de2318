"""Paying from e-BOK: the transfer (with its QR code) that pays the balance today, and
online payment orders through the payment provider (PayU).

Billing computes every amount itself (never the browser's), registers the order with the
provider, and moves it by the provider's signed notifications and its status check. A paid
order counts as a payment being booked until the back office's feed posts the real payment
under the order's id, after which the ledger counts it (never both).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from ebok_shared import logs
from ebok_shared.bus import Outbox
from ebok_shared.refusals import Refusal, conflict, invalid, not_found

from .. import events as ev
from ..common.connection import Conn
from ..documents.utility import Utility
from ..ledger import repository as ledger_repo
from ..ledger.domain import ZERO, client_bank_account
from ..ledger.use_cases import balance
from . import repository as repo
from .domain import BalanceTransfer, balance_transfer, to_pay_today
from .payment_orders import PAYU_STATUSES, OrderStatus, grosze, next_status, signature_valid
from .provider import PayU, ProviderUnavailable

log = logs.get_logger(__name__)


async def _unpaid(conn: Conn, client_number: str) -> tuple[list[Any], list[Any]]:
    invoices, notes = await ledger_repo.open_debts(conn, [client_number], [], [])
    return (
        sorted(invoices, key=lambda r: (r["due_date"], r["invoice_number"])),
        sorted(notes, key=lambda r: (r["payable_by"], r["note_number"])),
    )


async def being_booked(conn: Conn, client_number: str) -> Decimal:
    return sum((r["amount"] for r in await repo.paid_unbooked(conn, client_number)), ZERO)


async def balance_transfer_today(
    conn: Conn, client_number: str, today: date, utility: Utility
) -> tuple[BalanceTransfer, Decimal]:
    """The transfer that pays the balance today, less what online payments already paid
    and the back office has not booked yet; and that amount being booked."""
    result, _kind = await balance(conn, client_number, today)
    invoices, notes = await _unpaid(conn, client_number)
    booking = await being_booked(conn, client_number)
    transfer = balance_transfer(
        result,
        [r["invoice_number"] for r in invoices],
        [r["note_number"] for r in notes],
        nip=utility.nip,
        account=client_bank_account(utility.bank_prefix, client_number),
        recipient=utility.transfer_recipient,
        already_paid=booking,
    )
    return transfer, booking


# -- online payment orders ---------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """What the customer chose to pay: the balance today, or some invoices and notes."""

    scope: str
    invoices: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


async def _amount(
    conn: Conn, client_number: str, choice: Choice, today: date
) -> tuple[Decimal, tuple[str, ...], tuple[str, ...]]:
    """The amount billing asks for (with interest to today on overdue invoices) and the
    documents it pays. Another client's document answers like an unknown or paid one."""
    result, _kind = await balance(conn, client_number, today)
    invoices, notes = await _unpaid(conn, client_number)
    if choice.scope == "balance":
        owed = to_pay_today(result)
        if owed is None:
            raise conflict(
                "amount-unavailable",
                "Kwoty do zapłaty na dziś nie można teraz obliczyć (brak stopy lub kursu NBP).",
            )
        owed -= await being_booked(conn, client_number)
        if owed <= 0:
            raise conflict("nothing-to-pay", "Nie masz nic do zapłaty.")
        return (
            owed,
            tuple(r["invoice_number"] for r in invoices),
            tuple(r["note_number"] for r in notes),
        )
    if not choice.invoices and not choice.notes:
        raise invalid("invoice_numbers", "wybierz co najmniej jedną fakturę lub notę odsetkową")
    open_invoices = {r["invoice_number"]: r for r in invoices}
    open_notes = {r["note_number"]: r for r in notes}
    interest = {o.settlement.invoice_number: o for o in result.overdue}
    total = ZERO
    for number in choice.invoices:
        row = open_invoices.get(number)
        if row is None:
            raise invalid("invoice_numbers", f"faktura {number} nie jest Twoją nieopłaconą fakturą")
        total += row["total"] - row["paid"]
        overdue = interest.get(number)
        if overdue is not None:
            with_interest = overdue.to_pay_today
            if with_interest is None:
                raise conflict(
                    "amount-unavailable",
                    "Kwoty do zapłaty na dziś nie można teraz obliczyć (brak stopy NBP).",
                )
            total += with_interest - overdue.settlement.outstanding
    for number in choice.notes:
        note = open_notes.get(number)
        if note is None:
            raise invalid("note_numbers", f"nota {number} nie jest Twoją nieopłaconą notą")
        total += note["total"] - note["amount_paid"]
    return total, choice.invoices, choice.notes


async def start_order(
    conn: Conn,
    outbox: Outbox,
    provider: PayU | None,
    client_number: str,
    choice: Choice,
    customer_ip: str,
    now: datetime,
    today: date,
    validity: int,
) -> Any:
    """Create the order (started), register it with the provider (pending) and return it
    with the provider's address for the customer. One open order per client at a time."""
    if provider is None:
        raise Refusal(503, "payments-off", "Płatności online są obecnie wyłączone.")
    open_order = await repo.open_order(conn, client_number)
    if open_order is not None:
        # An order the customer abandoned must not block the next one: settle it first
        # (paid or cancelled meanwhile at the provider, or past its validity).
        await own_order(
            conn, outbox, provider, client_number, open_order["order_id"], now, validity
        )
    amount, invoices, notes = await _amount(conn, client_number, choice, today)
    order_id = uuid.uuid4()
    async with conn.transaction():
        if not await repo.insert_order(
            conn, order_id, client_number, choice.scope, invoices, notes, amount, now
        ):
            raise conflict(
                "payment-order-open",
                "Masz już rozpoczętą płatność online. Dokończ ją albo anuluj, zanim zaczniesz "
                "następną.",
            )
        started = await repo.order(conn, order_id)
        await outbox.add_events(conn, [_event(started, OrderStatus.STARTED, now)])
    email = await repo.client_email(conn, client_number)
    description = f"e-BOK: płatność klienta {client_number}"
    line = "Należności: " + ", ".join([*invoices, *notes])
    try:
        registered = await provider.register(
            str(order_id), grosze(amount), description, customer_ip, line[:255], email
        )
    except ProviderUnavailable:
        await _move(conn, outbox, order_id, OrderStatus.CANCELLED, now)
        raise Refusal(
            503,
            "provider-unavailable",
            "Serwis płatności jest chwilowo niedostępny. Spróbuj ponownie za kilka minut "
            "albo zapłać przelewem.",
        ) from None
    async with conn.transaction():
        row = await repo.order(conn, order_id, lock=True)
        await repo.set_registered(
            conn, order_id, registered.provider_order_id, registered.redirect_uri, now
        )
        if row is not None and row["status"] == OrderStatus.STARTED:
            await outbox.add_events(
                conn,
                [
                    ev.event(
                        ev.PAYMENT_ORDER_CHANGED,
                        {
                            **ev.payment_order_changed(row, OrderStatus.PENDING, now),
                            "provider_order_id": registered.provider_order_id,
                        },
                    )
                ],
            )
    return await repo.order(conn, order_id)


def _event(order: Any, status: OrderStatus, now: datetime) -> tuple[Any, str]:
    return ev.event(ev.PAYMENT_ORDER_CHANGED, ev.payment_order_changed(order, status, now))


async def _move(
    conn: Conn, outbox: Outbox, order_id: uuid.UUID, reported: OrderStatus, now: datetime
) -> Any:
    """Apply a reported status (idempotent: a repeat or a step back changes nothing)."""
    async with conn.transaction():
        row = await repo.order(conn, order_id, lock=True)
        if row is None:
            return None
        new = next_status(OrderStatus(row["status"]), reported)
        if new is not None:
            await repo.set_status(conn, order_id, new, now)
            await outbox.add_events(conn, [_event(row, new, now)])
    return await repo.order(conn, order_id)


def _refused_notification(reason: str, **facts: Any) -> Refusal:
    log.warning("payment notification refused", reason=reason, **facts)
    field = "OpenPayu-Signature" if reason == "bad-signature" else "order"
    return Refusal(
        400, "notification-refused", "Powiadomienie odrzucone.", field=field, reason=reason
    )


async def notification(
    conn: Conn,
    outbox: Outbox,
    body: bytes,
    signature: str | None,
    second_key: str,
    now: datetime,
) -> None:
    """A provider notification: signature verified, then it must name one of our orders,
    with its provider id and its amount; repeats and late steps back are acknowledged."""
    if not signature_valid(body, signature, second_key):
        raise _refused_notification("bad-signature")
    try:
        data = json.loads(body)
        order = data["order"]
        order_id = uuid.UUID(str(order["extOrderId"]))
        provider_id = str(order["orderId"])
        total = int(order["totalAmount"])
        reported = PAYU_STATUSES[str(order["status"])]
        currency = str(order.get("currencyCode", "PLN"))
    except (ValueError, KeyError, TypeError):
        raise _refused_notification("malformed") from None
    row = await repo.order(conn, order_id)
    if row is None:
        raise _refused_notification("unknown-order", order_id=str(order_id))
    if row["provider_order_id"] not in (None, provider_id):
        raise _refused_notification("other-provider-order", order_id=str(order_id))
    if total != grosze(row["amount"]) or currency != "PLN":
        raise _refused_notification("other-amount", order_id=str(order_id))
    await repo.count_notification(conn, order_id)
    await _move(conn, outbox, order_id, reported, now)


async def own_order(
    conn: Conn,
    outbox: Outbox,
    provider: PayU | None,
    client_number: str,
    order_id: uuid.UUID,
    now: datetime,
    validity: int,
) -> Any:
    """The customer's own order (another's answers 404). A pending one is checked with the
    provider (the status check: the customer may return before the notification); one past
    its validity that the provider never completed expires."""
    row = await repo.order(conn, order_id)
    if row is None or row["client_number"] != client_number:
        raise not_found("Nie znaleziono płatności.")
    return await _settle(conn, outbox, provider, row, now, validity)


async def _settle(
    conn: Conn,
    outbox: Outbox,
    provider: PayU | None,
    row: Any,
    now: datetime,
    validity: int,
) -> Any:
    """An open order as the provider reports it; past its validity and not completed at
    the provider, expired."""
    order_id = row["order_id"]
    if OrderStatus(row["status"]).final or provider is None:
        return row
    reported: OrderStatus | None = None
    if row["provider_order_id"]:
        try:
            status = await provider.status(row["provider_order_id"])
            reported = PAYU_STATUSES.get(status or "")
        except ProviderUnavailable:
            reported = None
    if reported is not None and reported != OrderStatus(row["status"]):
        row = await _move(conn, outbox, order_id, reported, now)
    if row["status"] in (OrderStatus.STARTED, OrderStatus.PENDING) and (
        row["created_at"] + timedelta(seconds=validity) < now
    ):
        row = await _move(conn, outbox, order_id, OrderStatus.EXPIRED, now)
    return row


async def expire_overdue(
    pool: asyncpg.Pool,
    outbox: Outbox,
    provider: PayU | None,
    now: datetime,
    validity: int,
    limit: int = 100,
) -> int:
    """The expiry sweep (the worker's loop): every open order past its validity settled —
    paid or cancelled if the provider says so, else expired, each with its event — without
    anyone reading it. Safe with several replicas: each order is claimed with its row lock
    (``SKIP LOCKED``), so another replica takes the next one and none is settled twice.
    Returns how many orders it settled."""
    if provider is None:
        return 0  # payments off: no order is open
    settled = 0
    async with pool.acquire() as conn:
        while settled < limit:
            async with conn.transaction():
                row = await repo.claim_overdue(conn, now - timedelta(seconds=validity))
                if row is None:
                    break
                await _settle(conn, outbox, provider, row, now, validity)
                settled += 1
    if settled:
        log.info("payment orders past their validity settled", count=settled)
    return settled


async def history(conn: Conn, client_number: str, limit: int, offset: int) -> tuple[int, list[Any]]:
    return await repo.orders_of(conn, client_number, limit, offset)


async def unmatched(
    conn: Conn, now: datetime, booking_days: int, limit: int
) -> tuple[list[Any], list[Any], list[Any]]:
    """For operators: orders paid over ``booking_days`` ago the back office never posted,
    posted online payments that book no order, and transfers whose title named nothing."""
    late = await repo.paid_not_posted(conn, now - timedelta(days=booking_days), limit)
    orphans = await repo.posted_without_order(conn, limit)
    return late, orphans, await repo.title_unmatched(conn, limit)
