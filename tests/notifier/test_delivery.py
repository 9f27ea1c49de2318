"""Delivery against the real broker, database and an aiosmtpd server: every e-mail goes
through the delivery log, and each (event, recipient) reaches the relay once."""

from __future__ import annotations

import asyncio

from ebok_notifier.domain import Kind, message_id
from ebok_shared.bus import Event

from tests.notifier.harness import (
    INVOICE,
    PDF,
    Billing,
    Notifier,
    invoice_payload,
    running_notifier,
    settings_for,
    unique_email,
)
from tests.support.smtp import SmtpServer
from tests.support.waiting import eventually


async def test_e_invoice_goes_out_once_with_its_pdf(
    notifier: Notifier, smtp: SmtpServer, billing: Billing
) -> None:
    address = unique_email()
    event = await notifier.emit(INVOICE, invoice_payload(7, email=address))

    await eventually(lambda: notifier.sent(event), "the e-invoice to be sent")

    [received] = smtp.to(address)
    expected_id = message_id(event.id, address, notifier.settings.message_id_domain)
    assert received.message_id == expected_id
    message = received.message()
    assert message["Subject"] == "E-faktura nr 10000126010007 z 5 stycznia 2026"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "faktura-10000126010007.pdf"
    assert attachment.get_content() == PDF + b"10000126010007"
    assert billing.requests == ["10000126010007"]
    row = await notifier.delivery_for(event)
    assert row is not None
    assert (row["kind"], row["attempts"], row["message_id"]) == (Kind.E_INVOICE, 1, expected_id)
    assert row["last_answer"].startswith("250")


async def test_paper_invoice_sends_nothing(notifier: Notifier, smtp: SmtpServer) -> None:
    paper = await notifier.emit(INVOICE, invoice_payload(1, email=None))
    barrier = await notifier.emit(INVOICE, invoice_payload(2, email=unique_email()))
    await eventually(lambda: notifier.sent(barrier), "the e-mail published after it")
    assert await notifier.delivery_for(paper) is None
    assert smtp.count == 1


async def test_421_then_success_is_delivered_once(notifier: Notifier, smtp: SmtpServer) -> None:
    smtp.fail_next(1, 421)
    address = unique_email()
    event = await notifier.emit(INVOICE, invoice_payload(3, email=address))

    await eventually(lambda: notifier.sent(event), "the retried e-mail to be sent")

    assert smtp.refused == 1
    assert len(smtp.to(address)) == 1
    row = await notifier.delivery_for(event)
    assert row is not None and row["attempts"] == 2


async def test_a_relay_that_does_not_answer_in_time_is_retried(
    database: str, amqp_url: str, bus_prefix: str, smtp: SmtpServer
) -> None:
    smtp.hang_next(1, seconds=4.0)
    settings = settings_for(database, amqp_url, bus_prefix, smtp, smtp_timeout=1.0)
    async with running_notifier(settings) as notifier:
        address = unique_email()
        event = await notifier.emit(
            "auth.account.locked",
            {"client_number": "100001", "email": address, "until": "2026-01-05T10:15:00+00:00"},
        )
        await eventually(lambda: notifier.sent(event), "the e-mail to go out on a second try")
        row = await notifier.delivery_for(event)
    assert row is not None and row["attempts"] >= 2
    assert len(smtp.to(address)) == 1  # the timed-out attempt transmitted nothing


async def test_550_fails_once_and_is_never_retried(notifier: Notifier, smtp: SmtpServer) -> None:
    smtp.fail_next(1, 550, "No such user here")
    refused = await notifier.emit(INVOICE, invoice_payload(4, email=unique_email()))
    await eventually(lambda: notifier.has_status(refused, "failed"), "the refusal to be recorded")
    # A later e-mail goes through the same sender: by the time it is sent, a retry of the
    # refused one would have been claimed long before it (it was due first).
    later = await notifier.emit(INVOICE, invoice_payload(5, email=unique_email()))
    await eventually(lambda: notifier.sent(later), "the next e-mail to be sent")

    row = await notifier.delivery_for(refused)
    assert row is not None
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert row["last_answer"] == "550 No such user here"
    assert smtp.refused == 1 and smtp.count == 1


async def test_smtp_outage_everything_delivered_after_it(
    notifier: Notifier, smtp: SmtpServer
) -> None:
    outage = 3.0  # seconds the relay is away; the retry delays are 0.1-0.4 s here
    smtp.stop()
    started = asyncio.get_running_loop().time()
    events = [
        await notifier.emit(INVOICE, invoice_payload(n, email=unique_email())) for n in range(20)
    ]

    async def all_retried() -> bool:
        rows = await notifier.pool.fetch("SELECT attempts, status FROM deliveries")
        return len(rows) == 20 and all(r["attempts"] >= 2 for r in rows)

    await eventually(all_retried, "every e-mail to fail at least twice during the outage")
    await asyncio.sleep(max(0.0, outage - (asyncio.get_running_loop().time() - started)))
    smtp.start()

    async def all_sent() -> bool:
        return all([await notifier.sent(e) for e in events])

    await eventually(all_sent, "every e-mail to be sent after the outage")
    ids = smtp.message_ids()
    assert len(ids) == 20 and set(ids.values()) == {1}
    rows = await notifier.pool.fetch("SELECT last_answer FROM deliveries")
    assert all(r["last_answer"].startswith("250") for r in rows)


async def test_the_same_event_delivered_twice_sends_one_email(
    notifier: Notifier, smtp: SmtpServer
) -> None:
    address = unique_email()
    event = Event.new(INVOICE, invoice_payload(6, email=address))
    await notifier.publish(event)
    await notifier.publish(event)
    barrier = await notifier.emit(INVOICE, invoice_payload(8, email=unique_email()))

    await eventually(lambda: notifier.sent(event), "the e-mail to be sent")
    await eventually(lambda: notifier.sent(barrier), "the e-mail published after both copies")

    assert len(smtp.to(address)) == 1
    assert len(await notifier.deliveries(event_id=event.id)) == 1


async def test_pdf_not_ready_yet_is_retried(
    notifier: Notifier, smtp: SmtpServer, billing: Billing
) -> None:
    billing.fail_next = 2
    address = unique_email()
    event = await notifier.emit(INVOICE, invoice_payload(9, email=address))

    await eventually(lambda: notifier.sent(event), "the e-invoice to be sent")

    row = await notifier.delivery_for(event)
    assert row is not None and row["attempts"] == 3
    [received] = smtp.to(address)
    assert len(list(received.message().iter_attachments())) == 1


async def test_a_run_of_password_resets_written_together_sends_each_once(
    notifier: Notifier, smtp: SmtpServer
) -> None:
    """Password resets arriving together reach the consumer as one batch, which its batched
    handler writes to the delivery log in one statement; copies of some of them in the same
    run (a redelivery) still make one e-mail each."""
    reset = "auth.password_reset.requested"
    events = [
        Event.new(
            reset,
            {
                "client_number": "100001",
                "email": unique_email(),
                "token": "Hk2wq7bM1sYVtq2mB0Jr9lT5cXQe8pN3aZfU6dG4kL0",
                "expires_at": "2026-01-05T11:00:00+00:00",
            },
        )
        for _ in range(40)
    ]
    await asyncio.gather(*(notifier.publish(e) for e in [*events, *events[:10]]))

    async def all_sent() -> bool:
        return all([await notifier.sent(e) for e in events])

    await eventually(all_sent, "every reset e-mail to be sent")
    for event in events:
        assert len(smtp.to(event.payload["email"])) == 1
        assert len(await notifier.deliveries(event_id=event.id)) == 1
