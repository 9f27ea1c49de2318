"""Every SQL statement of billing (plain asyncpg), one module per area."""

from . import billing_run, clients, documents, e_invoice, feed, interest, ledger, payments
from .connection import Conn, Record

__all__ = [
    "Conn",
    "Record",
    "billing_run",
    "clients",
    "documents",
    "e_invoice",
    "feed",
    "interest",
    "ledger",
    "payments",
]
