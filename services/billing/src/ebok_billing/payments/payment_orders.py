"""Online payment orders: their states, how the provider's statuses move them, and the
provider's notification signature (PayU's ``OpenPayu-Signature``). Pure.

    started ──► pending ──► paid
       │           ├──────► cancelled
       └───────────┴──────► expired   (no payment within the order's validity)

A final state never changes: the provider repeats notifications and may deliver them out
of order (a late PENDING after COMPLETED), so a notification that would move an order back
or sideways is acknowledged and ignored.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from decimal import Decimal


class OrderStatus(enum.StrEnum):
    STARTED = "started"
    PENDING = "pending"
    PAID = "paid"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def final(self) -> bool:
        return self in (OrderStatus.PAID, OrderStatus.CANCELLED, OrderStatus.EXPIRED)


_LABELS = {
    OrderStatus.STARTED: "rozpoczęta",
    OrderStatus.PENDING: "oczekuje na płatność",
    OrderStatus.PAID: "opłacona",
    OrderStatus.CANCELLED: "anulowana",
    OrderStatus.EXPIRED: "wygasła",
}
OPEN = (OrderStatus.STARTED, OrderStatus.PENDING)

# PayU's order statuses (REST API 2.1) as ours; WAITING_FOR_CONFIRMATION only appears when
# the shop captures payments itself (auto-receive off): the money is not taken yet.
PAYU_STATUSES = {
    "NEW": OrderStatus.PENDING,
    "PENDING": OrderStatus.PENDING,
    "WAITING_FOR_CONFIRMATION": OrderStatus.PENDING,
    "COMPLETED": OrderStatus.PAID,
    "CANCELED": OrderStatus.CANCELLED,
}


def next_status(current: OrderStatus, reported: OrderStatus) -> OrderStatus | None:
    """The order's new status after the provider reports ``reported`` (None: no change)."""
    if current.final or reported == current:
        return None
    if current == OrderStatus.PENDING and reported == OrderStatus.STARTED:
        return None
    return reported


def grosze(amount: Decimal) -> int:
    """PayU's ``totalAmount``: the amount in the currency's smallest unit."""
    return int((amount * 100).quantize(Decimal("1")))


# -- the notification's signature ------------------------------------------------------------

_ALGORITHMS = {"MD5": "md5", "SHA": "sha1", "SHA1": "sha1", "SHA-256": "sha256", "SHA256": "sha256"}


def signature_header(body: bytes, second_key: str, algorithm: str = "MD5") -> str:
    """The header PayU sends: ``sender=checkout;signature=…;algorithm=…;content=DOCUMENT``,
    the signature being the digest of the body followed by the POS's second key."""
    digest = hashlib.new(_ALGORITHMS[algorithm], body + second_key.encode()).hexdigest()
    return f"sender=checkout;signature={digest};algorithm={algorithm};content=DOCUMENT"


def signature_valid(body: bytes, header: str | None, second_key: str) -> bool:
    if not header or not second_key:
        return False
    fields = dict(part.strip().split("=", 1) for part in header.split(";") if "=" in part.strip())
    algorithm = fields.get("algorithm", "MD5").upper()
    signature = fields.get("signature", "")
    if algorithm not in _ALGORITHMS or not signature:
        return False
    expected = hashlib.new(_ALGORITHMS[algorithm], body + second_key.encode()).hexdigest()
    return hmac.compare_digest(expected, signature.lower())
