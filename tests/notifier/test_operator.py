"""Operator routes: list failed deliveries, re-send one, campaign progress; every refusal is
problem+json."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientResponse

from tests.notifier.harness import INVOICE, Notifier, invoice_payload, unique_email
from tests.support.smtp import SmtpServer
from tests.support.waiting import eventually


async def _problem(resp: ClientResponse, status: int) -> dict[str, Any]:
    assert resp.status == status
    assert resp.content_type == "application/problem+json"
    body: dict[str, Any] = await resp.json()
    assert body["status"] == status
    return body


async def test_operator_lists_failures_and_resends_one(
    notifier: Notifier, smtp: SmtpServer
) -> None:
    smtp.fail_next(1, 550, "Mailbox full")
    address = unique_email()
    event = await notifier.emit(INVOICE, invoice_payload(1, email=address))
    await eventually(lambda: notifier.has_status(event, "failed"), "the refusal to be recorded")
    client, headers = notifier.client, notifier.issuer.operator()

    listed = await client.get("/operator/deliveries?status=failed", headers=headers)
    assert listed.status == 200
    [item] = (await listed.json())["items"]
    assert item["recipient"] == address and item["last_answer"] == "550 Mailbox full"
    assert (item["status"], item["attempts"], item["kind"]) == ("failed", 1, "e_invoice")

    resent = await client.post(f"/operator/deliveries/{item['id']}/resend", headers=headers)
    assert resent.status == 202
    await eventually(lambda: notifier.sent(event), "the re-sent e-mail to go out")
    [received] = smtp.to(address)
    assert received.message_id == item["message_id"]  # the same e-mail, recognisably
    assert (await (await client.get("/operator/deliveries?status=failed", headers=headers)).json())[
        "items"
    ] == []

    again = await client.post(f"/operator/deliveries/{item['id']}/resend", headers=headers)
    assert (await _problem(again, 409))["code"] == "delivery-not-failed"


async def test_operator_routes_refuse_others_with_problems(notifier: Notifier) -> None:
    client = notifier.client
    await _problem(await client.get("/operator/deliveries?status=failed"), 401)
    await _problem(
        await client.get("/operator/deliveries?status=failed", headers=notifier.issuer.customer()),
        403,
    )
    headers = notifier.issuer.operator()
    bad = await _problem(await client.get("/operator/deliveries?status=lost", headers=headers), 422)
    assert bad["errors"][0]["field"] == "status"
    paged = await _problem(await client.get("/operator/deliveries?limit=0", headers=headers), 400)
    assert paged["errors"][0]["field"] == "limit"  # a bad query parameter: 400, as everywhere
    await _problem(await client.post("/operator/deliveries/999/resend", headers=headers), 404)
    await _problem(await client.get("/operator/campaigns/999", headers=headers), 404)
