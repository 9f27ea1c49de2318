"""The receipt of an online payment: e-mailed once when billing reports the order paid, to
the address the customer's account has; the order's other states send nothing."""

from __future__ import annotations

from typing import Any

from ebok_notifier.domain import Kind

from tests.notifier.harness import Notifier, unique_email
from tests.support.smtp import SmtpServer
from tests.support.waiting import eventually

ORDER = "0b8e2f8c-55a4-4c43-9a57-2d7c1b1f3c11"


def _order(status: str) -> dict[str, Any]:
    return {
        "order_id": ORDER,
        "client_number": "200101",
        "status": status,
        "amount": "245.10",
        "invoice_numbers": ["20010126030003"],
        "note_numbers": [],
        "changed_at": "2026-03-20T10:15:00+00:00",
        "provider_order_id": "WZHF5FFDRJ140731GUEST000P01",
    }


async def test_paid_order_sends_one_receipt(notifier: Notifier, smtp: SmtpServer) -> None:
    address = unique_email()
    activated = await notifier.emit(
        "auth.account.activated", {"client_number": "200101", "email": address}
    )
    await notifier.consumed(activated)
    pending = await notifier.emit("billing.payment_order.status_changed", _order("pending"))
    paid = await notifier.emit("billing.payment_order.status_changed", _order("paid"))
    await eventually(lambda: notifier.sent(paid), "the receipt to be sent")

    assert await notifier.delivery_for(pending) is None
    [received] = smtp.to(address)
    message = received.message()
    assert message["Subject"].replace("\u00a0", " ") == "Potwierdzenie płatności online: 245,10 zł"
    row = await notifier.delivery_for(paid)
    assert row is not None and row["kind"] == Kind.PAYMENT_RECEIPT
