"""Paying what is owed: the amount to pay today and the transfer that pays it, and what a
bank transfer's title says it pays. Pure."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from ..ledger.domain import ZERO, Balance
from .transfer_qr import TransferQr, title_for


def to_pay_today(balance: Balance) -> Decimal | None:
    """All the client owes if they pay today: the balance, the interest accrued to today on
    overdue invoices and the recovery compensation due with it. ``ZERO`` when nothing is
    owed; None when some part cannot be said (no NBP rate to reckon it by)."""
    if balance.balance <= 0:
        return ZERO
    total = balance.balance
    for overdue in balance.overdue:
        owed = overdue.to_pay_today
        if owed is None:
            return None
        total += owed - overdue.settlement.outstanding
    return total


@dataclass(frozen=True)
class BalanceTransfer:
    """The transfer that pays the balance today (``qr`` None: nothing to pay, or the amount
    cannot be said — then ``reason`` says why, in Polish)."""

    amount: Decimal | None
    invoices: tuple[str, ...]
    notes: tuple[str, ...]
    qr: TransferQr | None
    reason: str | None = None


def balance_transfer(
    balance: Balance,
    invoices: Sequence[str],
    notes: Sequence[str],
    *,
    nip: str,
    account: str,
    recipient: str,
    already_paid: Decimal = ZERO,
) -> BalanceTransfer:
    """``invoices``/``notes``: the client's unpaid invoices and interest notes, named in the
    title (as many as fit) so the back office can see what the money is for;
    ``already_paid``: online payments paid but not booked yet (never asked for twice)."""
    amount = to_pay_today(balance)
    docs = (tuple(invoices), tuple(notes))
    if amount is None:
        reason = "Kwoty do zapłaty na dziś nie można podać: brak stopy lub kursu NBP."
        return BalanceTransfer(None, *docs, None, reason)
    if amount > 0 and already_paid > 0:
        amount = max(amount - already_paid, ZERO)
        if amount == 0:
            reason = "Twoja płatność online jest w trakcie księgowania: nie masz nic do zapłaty."
            return BalanceTransfer(amount, *docs, None, reason)
    if amount <= 0:
        return BalanceTransfer(amount, *docs, None, "Nie masz nic do zapłaty.")
    title = title_for([*invoices, *notes]) or "Saldo"
    return BalanceTransfer(amount, *docs, TransferQr(nip, account, amount, recipient, title))


# -- what a transfer's title names --------------------------------------------------------------

# A title is free text typed (or scanned from our QR code) by the payer: the numbers are
# looked for anywhere in it, not only in the QR code's exact format ("Faktura <number>",
# "<invoice> <invoice> <note> +N"), and each only once.
_ORDER_ID = re.compile(
    r"(?<![0-9a-f])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-f])",
    re.IGNORECASE,
)
_NOTE = re.compile(r"(?<![A-Za-z0-9])NO/\d{10,20}/\d{2}(?!\d)", re.IGNORECASE)
_INVOICE = re.compile(r"(?<![\d/])\d{10,20}(?![\d/])")


@dataclass(frozen=True)
class TitleReferences:
    """The payment order ids, interest note numbers and invoice numbers a title names, in
    the order it names them."""

    order_ids: tuple[uuid.UUID, ...] = ()
    invoices: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.order_ids or self.invoices or self.notes)


def title_references(title: str | None) -> TitleReferences:
    """What ``title`` names. A note's number holds an invoice's digits: a note is not read
    as an invoice too."""
    if not title:
        return TitleReferences()
    orders = tuple(dict.fromkeys(uuid.UUID(m) for m in _ORDER_ID.findall(title)))
    rest = _ORDER_ID.sub(" ", title)
    notes = tuple(dict.fromkeys(m.upper() for m in _NOTE.findall(rest)))
    rest = _NOTE.sub(" ", rest)
    invoices = tuple(dict.fromkeys(_INVOICE.findall(rest)))
    return TitleReferences(orders, invoices, notes)
