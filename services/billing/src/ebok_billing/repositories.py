"""Billing's repositories by sub-domain (``repo.ledger``, ``repo.interest``, …), for use cases."""

from .billing_run import repository as billing_run
from .clients import repository as clients
from .common.connection import Conn, Record
from .documents import repository as documents
from .e_invoice import repository as e_invoice
from .feed import repository as feed
from .interest import repository as interest
from .ledger import repository as ledger
from .payments import repository as payments

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
