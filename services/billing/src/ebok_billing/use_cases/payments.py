"""Paying from e-BOK: the transfer (with its QR code) that pays the balance today."""

from __future__ import annotations

from datetime import date

from .. import repository as repo
from ..domain.ledger import client_bank_account
from ..domain.payments import BalanceTransfer, balance_transfer
from ..pdf import Utility
from .ledger import balance


async def balance_transfer_today(
    conn: repo.Conn, client_number: str, today: date, utility: Utility
) -> BalanceTransfer:
    result, _kind = await balance(conn, client_number, today)
    invoices, notes = await repo.ledger.open_debts(conn, [client_number], [], [])
    return balance_transfer(
        result,
        [
            r["invoice_number"]
            for r in sorted(invoices, key=lambda r: (r["due_date"], r["invoice_number"]))
        ],
        [
            r["note_number"]
            for r in sorted(notes, key=lambda r: (r["payable_by"], r["note_number"]))
        ],
        nip=utility.nip,
        account=client_bank_account(utility.bank_prefix, client_number),
        recipient=utility.transfer_recipient,
    )
