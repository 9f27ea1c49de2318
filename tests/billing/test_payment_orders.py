"""Online payment orders through billing's real app and the PayU sandbox (deploy/), over
real HTTP both ways: billing registers orders with the sandbox, the sandbox notifies billing
(signed, with retries, duplicates and a stale status out of order) through a hop that, like
the gateway, forwards only the body, its type and the signature."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from ebok_billing.documents import rendering as documents
from ebok_billing.payments import use_cases as payments
from ebok_billing.payments.payment_orders import signature_header
from ebok_billing.payments.provider import PROVIDER
from ebok_shared.clock import clock
from ebok_shared.config import Secret

from deploy.payu_sandbox import RunningSandbox, SandboxSettings, start_sandbox
from tests.billing.helpers import (
    Billing,
    billing_settings,
    client_row,
    contract_row,
    invoice_row,
    payment_row,
    running_billing,
)
from tests.billing.test_customer import I1, I2, I3, IB, PAYMENTS, TODAY, A, B
from tests.support.tokens import running_issuer
from tests.support.waiting import eventually

SANDBOX = SandboxSettings(payu_sandbox_port=0)
EVENT = "billing.payment_order.status_changed"


class Hop:
    """The public address PayU notifies (the gateway's place): forwards to billing."""

    def __init__(self) -> None:
        self.target = ""
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/notify", self.forward)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/notify"

    async def forward(self, request: web.Request) -> web.Response:
        headers = {
            h: request.headers[h]
            for h in ("Content-Type", "OpenPayu-Signature")
            if h in request.headers
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.target, data=await request.read(), headers=headers) as resp,
        ):
            return web.Response(status=resp.status, body=await resp.read())


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(SANDBOX, port=0)
    yield running
    await running.stop()


@pytest.fixture
async def paying(
    database: str, amqp_url: str, bus_prefix: str, sandbox: RunningSandbox
) -> AsyncIterator[Billing]:
    documents.clear_cache()
    hop = Hop()
    await hop.start()
    async with running_issuer() as issuer:
        settings = billing_settings(
            database,
            amqp_url,
            bus_prefix,
            issuer.jwks_url,
            payu_base_url=sandbox.url,
            payu_pos_id=SANDBOX.payu_pos_id,
            payu_client_id=SANDBOX.payu_client_id,
            payu_client_secret=Secret(SANDBOX.payu_client_secret),
            payu_second_key=Secret(SANDBOX.payu_second_key),
            payu_notify_url=hop.url,
            payu_continue_url="http://portal.test/platnosci",
        )
        async with running_billing(settings, issuer) as billing:
            hop.target = str(billing.client.make_url("/payments/payu/notifications"))
            clock.freeze(TODAY)
            await billing.feed(
                [
                    client_row(A, email="jan@example.pl"),
                    client_row(B, kind="business"),
                    contract_row("U/100001/2023", A),
                    contract_row("U/100002/2024", B, concluded_on="2024-02-01"),
                    I1,
                    I2,
                    I3,
                    IB,
                    *PAYMENTS,
                ]
            )
            yield billing
    assert hop.runner is not None
    await hop.runner.cleanup()


async def _post(billing: Billing, client: str, body: dict[str, Any]) -> tuple[int, Any]:
    resp = await billing.client.post(
        "/me/payment-orders", json=body, headers=billing.issuer.customer(client)
    )
    return resp.status, await resp.json(content_type=None)


async def _unmatched(billing: Billing) -> Any:
    resp = await billing.client.get(
        "/operator/payment-orders/unmatched", headers=billing.issuer.operator(roles=("billing",))
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _delivered(sandbox: RunningSandbox, order: str, status: str, count: int = 1) -> None:
    def done() -> bool:
        taken = [
            d
            for d in sandbox.sandbox.deliveries
            if d.order_id == order and d.status == status and d.answer == 200
        ]
        return len(taken) >= count

    await eventually(done, f"{count} × {status} taken for {order}")


async def test_paying_the_balance_through_the_provider(
    paying: Billing, sandbox: RunningSandbox
) -> None:
    transfer = await paying.get("/me/balance/transfer", A)
    status, order = await _post(paying, A, {"scope": "balance"})
    assert status == 201, order
    assert order["status"] == "pending" and order["amount"] == transfer["amount"]
    assert order["invoice_numbers"] == transfer["invoices"]
    (registered,) = sandbox.sandbox.orders.values()
    assert registered.data["extOrderId"] == order["order_id"]
    assert registered.data["totalAmount"] == str(round(Decimal(order["amount"]) * 100))
    assert registered.data["continueUrl"] == f"http://portal.test/platnosci/{order['order_id']}"
    assert order["redirect_uri"] == f"{sandbox.url}/pay/{registered.order_id}"
    await _delivered(sandbox, registered.order_id, "PENDING")

    # Paying twice while one order is pending is refused.
    again, problem = await _post(
        paying, A, {"scope": "documents", "invoice_numbers": [I3["invoice_number"]]}
    )
    assert again == 409 and problem["code"] == "payment-order-open", problem

    # The customer pays on the provider's page and is sent back to the portal.
    async with aiohttp.ClientSession() as browser:
        page = await browser.get(order["redirect_uri"])
        assert "Zapłać" in await page.text() and "Anuluj" in await page.text()
        back = await browser.post(f"{order['redirect_uri']}/pay", allow_redirects=False)
        assert back.status == 303
        assert back.headers["Location"] == f"http://portal.test/platnosci/{order['order_id']}"

    # COMPLETED until taken, then its duplicate and a stale PENDING: paid once, stays paid.
    await _delivered(sandbox, registered.order_id, "COMPLETED", 2)
    await _delivered(sandbox, registered.order_id, "PENDING", 2)
    paid = await paying.get(f"/me/payment-orders/{order['order_id']}", A)
    assert paid["status"] == "paid" and paid["booked"] is False
    assert paid["booking_text"] == "w trakcie księgowania" and paid["redirect_uri"] is None
    changes = await paying.tap.wait_for(EVENT, 3, order_id=order["order_id"])
    assert [e.payload["status"] for e in changes] == ["started", "pending", "paid"]

    # Shown as being booked; the transfer no longer asks for it.
    booking = await paying.get("/me/balance/transfer", A)
    assert booking["being_booked"] == order["amount"] and booking["available"] is False
    assert "w trakcie księgowania" in booking["reason"]

    # Not posted within the set days: listed for operators.
    assert (await _unmatched(paying))["paid_not_posted"] == []
    clock.freeze(TODAY + dt.timedelta(days=4))
    (late,) = (await _unmatched(paying))["paid_not_posted"]
    assert late["order_id"] == order["order_id"] and late["client_number"] == A
    clock.freeze(TODAY)

    # The back office posts the real payment under the order's id: booked, counted once.
    before = Decimal((await paying.get("/me/balance", A))["payments_total"])
    await paying.feed(
        [payment_row(order["order_id"], A, I1["invoice_number"], "2026-03-20", order["amount"])]
    )
    booked = await paying.get(f"/me/payment-orders/{order['order_id']}", A)
    assert booked["booked"] is True and booked["booking_text"] == "zaksięgowana"
    after = await paying.get("/me/balance", A)
    assert Decimal(after["payments_total"]) == before + Decimal(order["amount"])
    assert (await paying.get("/me/balance/transfer", A))["being_booked"] == "0.00"

    clock.freeze(TODAY + dt.timedelta(days=4))
    assert (await _unmatched(paying))["paid_not_posted"] == []
    clock.freeze(TODAY)

    # A payment posted as an online one that names no order of ours: listed too.
    orphan = "9d7c1b1f-55a4-4c43-9a57-2d7c1b1f3c11"
    await paying.feed([payment_row(orphan, A, I3["invoice_number"], "2026-03-20", "10.00")])
    listed = await _unmatched(paying)
    assert [p["payment_id"] for p in listed["posted_without_order"]] == [orphan]

    history = await paying.get("/me/payment-orders", A)
    assert [o["order_id"] for o in history["items"]] == [order["order_id"]]
    assert (await paying.get("/me/payment-orders", B))["items"] == []
    await paying.get(f"/me/payment-orders/{order['order_id']}", B, expect=404)


async def test_an_order_the_provider_notified_before_answering_keeps_its_address(
    paying: Billing, sandbox: RunningSandbox
) -> None:
    """PayU may notify PENDING before its answer to the registration arrives (a busy
    service sees it so): the order is pending either way, with the address to send the
    customer to and the provider's id to check its status by."""
    sandbox.sandbox.notify_first = True
    numbers = [I3["invoice_number"]]
    status, order = await _post(paying, A, {"scope": "documents", "invoice_numbers": numbers})
    assert status == 201 and order["status"] == "pending"
    assert [(d.status, d.answer) for d in sandbox.sandbox.deliveries] == [("PENDING", 200)]
    registered = next(iter(sandbox.sandbox.orders.values()))
    assert order["redirect_uri"] == f"{sandbox.url}/pay/{registered.order_id}"
    async with aiohttp.ClientSession() as browser:
        await browser.post(f"{order['redirect_uri']}/cancel", allow_redirects=False)
    # The status check finds the order at the provider by the id kept.
    cancelled = await paying.get(f"/me/payment-orders/{order['order_id']}", A)
    assert cancelled["status"] == "cancelled"


async def test_cancelled_then_expired_orders(paying: Billing, sandbox: RunningSandbox) -> None:
    numbers = [I3["invoice_number"]]
    _, first = await _post(paying, A, {"scope": "documents", "invoice_numbers": numbers})
    assert first["status"] == "pending" and first["invoice_numbers"] == numbers
    async with aiohttp.ClientSession() as browser:
        await browser.post(f"{first['redirect_uri']}/cancel", allow_redirects=False)
    # The customer may come back before the notification: the status check answers.
    cancelled = await paying.get(f"/me/payment-orders/{first['order_id']}", A)
    assert cancelled["status"] == "cancelled"

    status, second = await _post(paying, A, {"scope": "documents", "invoice_numbers": numbers})
    assert status == 201 and second["status"] == "pending"
    clock.freeze(TODAY + dt.timedelta(hours=1))  # past the order's validity, never paid
    # Abandoned, it does not block the next order: it expires as that one starts.
    status, third = await _post(paying, A, {"scope": "documents", "invoice_numbers": numbers})
    assert status == 201 and third["status"] == "pending", third
    expired = await paying.get(f"/me/payment-orders/{second['order_id']}", A)
    assert expired["status"] == "expired"
    events = await paying.tap.wait_for(EVENT, 8)
    assert [e.payload["status"] for e in events if e.payload["order_id"] == second["order_id"]] == [
        "started",
        "pending",
        "expired",
    ]


async def test_forged_replayed_and_foreign_requests_are_refused(
    paying: Billing, sandbox: RunningSandbox
) -> None:
    # Another client's invoice answers like an unknown one; bad input names the field.
    cases: list[tuple[dict[str, Any], str]] = [
        ({"scope": "documents", "invoice_numbers": [IB["invoice_number"]]}, "invoice_numbers"),
        ({"scope": "documents", "note_numbers": ["NO/10000226030001/01"]}, "note_numbers"),
        ({"scope": "documents"}, "invoice_numbers"),
        ({"scope": "all"}, "scope"),
        ({"scope": "balance", "amount": "1.00"}, "amount"),
    ]
    for body, field in cases:
        status, problem = await _post(paying, A, body)
        assert status in (400, 422), (body, problem)
        assert problem["errors"][0]["field"] == field, problem
    assert sandbox.sandbox.orders == {}

    _, order = await _post(paying, A, {"scope": "balance"})
    (registered,) = sandbox.sandbox.orders.values()
    notify = "/payments/payu/notifications"
    genuine = {"order": {**registered.document(), "status": "COMPLETED"}}

    async def send(document: dict[str, Any], key: str = SANDBOX.payu_second_key) -> str:
        """The reason a notification was refused ("" when taken)."""
        body = json.dumps(document).encode()
        resp = await paying.client.post(
            notify,
            data=body,
            headers={
                "Content-Type": "application/json",
                "OpenPayu-Signature": signature_header(body, key),
            },
        )
        if resp.status == 200:
            return ""
        assert resp.status == 400
        return str((await resp.json())["errors"][0]["reason"])

    assert await send(genuine, key="not-the-second-key") == "bad-signature"  # forged
    other_amount = {"order": {**genuine["order"], "totalAmount": "1"}}
    assert await send(other_amount) == "other-amount"
    other_order = {"order": {**genuine["order"], "orderId": "SOMEONEELSES0001"}}
    assert await send(other_order) == "other-provider-order"
    unknown = {"order": {**genuine["order"], "extOrderId": "6f1c3a43-3b1e-4c1b-9d0e-000000000000"}}
    assert await send(unknown) == "unknown-order"
    unsigned = await paying.client.post(notify, json=genuine)
    assert unsigned.status == 400
    still = await paying.get(f"/me/payment-orders/{order['order_id']}", A)
    assert still["status"] == "pending"

    # The provider unreachable: a clear Polish problem, no order left open.
    async with aiohttp.ClientSession() as browser:
        await browser.post(f"{order['redirect_uri']}/cancel", allow_redirects=False)
    await paying.get(f"/me/payment-orders/{order['order_id']}", A)
    await sandbox.stop()
    status, problem = await _post(paying, A, {"scope": "balance"})
    assert status == 503 and problem["code"] == "provider-unavailable", problem
    assert "Serwis płatności jest chwilowo niedostępny" in problem["detail"]
    history = (await paying.get("/me/payment-orders", A))["items"]
    assert [o["status"] for o in history] == ["cancelled", "cancelled"]


async def test_a_transfer_naming_the_order_in_its_title_books_it(
    paying: Billing, sandbox: RunningSandbox
) -> None:
    numbers = [I3["invoice_number"]]  # not due yet: art. 451 § 3 alone would pay I1 first
    _, order = await _post(paying, A, {"scope": "documents", "invoice_numbers": numbers})
    async with aiohttp.ClientSession() as browser:
        await browser.post(f"{order['redirect_uri']}/pay", allow_redirects=False)
    paid = await paying.get(f"/me/payment-orders/{order['order_id']}", A)
    assert paid["status"] == "paid" and paid["booked"] is False

    # The back office posts it under the bank's own id, the order's id only in the title.
    row = payment_row("BANK-0001", A, "x", "2026-03-20", order["amount"])
    del row["invoice_number"]
    title = f"e-BOK płatność {order['order_id'].upper()}"
    await paying.feed([{**row, "title": title}])
    posted = await paying.tap.until("billing.payment.posted", payment_id="BANK-0001")
    assert [a["invoice_number"] for a in posted.payload["allocations"]] == numbers
    booked = await paying.get(f"/me/payment-orders/{order['order_id']}", A)
    assert booked["booked"] is True and booked["booking_text"] == "zaksięgowana"
    assert (await paying.get("/me/balance/transfer", A))["being_booked"] == "0.00"

    # A second transfer naming the same order books nothing: listed for operators, as is
    # one naming another client's order.
    second = {**row, "payment_id": "BANK-0002", "amount": "5.00", "title": title}
    foreign = {**second, "payment_id": "BANK-0003", "client_number": B}
    await paying.feed([second, foreign])
    listed = await _unmatched(paying)
    assert [p["payment_id"] for p in listed["title_unmatched"]] == ["BANK-0002", "BANK-0003"]
    assert listed["posted_without_order"] == []


async def test_orders_past_their_validity_expire_without_anyone_reading_them(
    paying: Billing, sandbox: RunningSandbox
) -> None:
    await paying.feed([invoice_row("10000226030002", B, "U/100002/2024", issue_date="2026-03-15")])
    _, first = await _post(paying, A, {"scope": "balance"})
    _, second = await _post(paying, B, {"scope": "balance"})
    assert first["status"] == second["status"] == "pending"
    provider = paying.app[PROVIDER]
    validity = paying.settings.payment_order_validity_seconds
    # Within their validity: left alone.
    assert (
        await payments.expire_overdue(paying.pool, paying.outbox, provider, clock.now(), validity)
        == 0
    )

    # Two replicas sweep at the same moment, past the validity: each order expires once.
    later = clock.now() + dt.timedelta(seconds=validity + 1)

    async def sweep() -> int:
        return await payments.expire_overdue(paying.pool, paying.outbox, provider, later, validity)

    swept = sum(await asyncio.gather(sweep(), sweep()))
    # An order whose row another transaction holds at that moment (the sandbox repeats its
    # notifications) is skipped, as one another replica holds would be: a later round takes
    # it. The worker's loop runs the rounds; here they run until both are settled.
    for _ in range(100):
        if swept >= 2:
            break
        await asyncio.sleep(0.05)
        swept += await sweep()
    assert swept == 2, swept
    for order in (first, second):
        changes = await paying.tap.wait_for(EVENT, 3, order_id=order["order_id"])
        assert [e.payload["status"] for e in changes] == ["started", "pending", "expired"]
    async with paying.pool.acquire() as conn:
        statuses = await conn.fetch("SELECT status FROM payment_orders")
    assert [r["status"] for r in statuses] == ["expired", "expired"]

    # The worker's own loop (another replica, started with a short interval) does it alone.
    clock.freeze(TODAY)
    _, third = await _post(paying, A, {"scope": "balance"})
    clock.freeze(TODAY + dt.timedelta(seconds=validity + 1))
    replica = replace(paying.settings, role="worker", payment_expiry_interval_seconds=0.2)
    async with running_billing(replica, paying.issuer):
        await paying.tap.until(EVENT, order_id=third["order_id"], status="expired")
