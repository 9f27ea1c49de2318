"""The notifier's part of a customer's data export (``GET /me/export``, gathered by the
gateway's ``/api/v1/me/export``): the customer's address and e-mail log, nobody else's,
never a one-time link."""

from __future__ import annotations

from tests.notifier.harness import Notifier, unique_email
from tests.support.waiting import eventually


def _case(client_number: str, case_number: str) -> dict[str, object]:
    return {
        "case_id": "5b1f0c1e-8a4e-4a37-9a51-2f3c1d9e7a10",
        "case_number": case_number,
        "client_number": client_number,
        "kind": "failure_report",
        "urgent": True,
        "submitted_at": "2026-03-02T09:15:00+00:00",
        "reply_due": None,
        "attachments": 0,
    }


async def test_customer_exports_own_address_and_email_log(notifier: Notifier) -> None:
    mine, theirs = unique_email("moj"), unique_email("cudzy")
    await notifier.emit("auth.account.activated", {"client_number": "100001", "email": mine})
    await notifier.emit("auth.account.activated", {"client_number": "200001", "email": theirs})

    async def both_known() -> bool:
        known = await notifier.pool.fetchval("SELECT count(*) FROM recipients")
        return bool(known == 2)

    await eventually(both_known, "both users to be known")
    own = await notifier.emit("correspondence.case.submitted", _case("100001", "EBOK/2026/000001"))
    other = await notifier.emit(
        "correspondence.case.submitted", _case("200001", "EBOK/2026/000002")
    )
    await eventually(lambda: notifier.sent(own), "the customer's e-mail to go out")
    await eventually(lambda: notifier.sent(other), "the other customer's e-mail to go out")

    resp = await notifier.client.get("/me/export", headers=notifier.issuer.customer())  # 100001
    assert resp.status == 200
    body = await resp.json()
    assert body["service"] == "notifier" and body["client_number"] == "100001"
    assert body["recipient"]["email"] == mine and body["recipient"]["status"] == "active"
    [delivery] = body["deliveries"]
    assert (delivery["kind"], delivery["recipient"], delivery["status"]) == (
        "case_received",
        mine,
        "sent",
    )
    assert theirs not in await resp.text()
    assert "context" not in delivery


async def test_export_is_for_customers_only(notifier: Notifier) -> None:
    assert (await notifier.client.get("/me/export")).status == 401
    refused = await notifier.client.get("/me/export", headers=notifier.issuer.operator())
    assert refused.status == 403
    assert refused.content_type == "application/problem+json"
