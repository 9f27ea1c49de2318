"""The SMTP side: STARTTLS, implicit TLS and login against a real aiosmtpd server;
connections reused from the small pool; two replicas sharing one delivery log."""

from __future__ import annotations

import uuid
from typing import Any
from unittest import mock

import aiosmtplib
import pytest
from ebok_notifier.compose import CrlfMessage
from ebok_notifier.settings import NotifierSettings
from ebok_notifier.transport import send_data
from ebok_shared.bus import Event
from ebok_shared.config import Secret

from tests.notifier.harness import (
    Billing,
    Notifier,
    running_notifier,
    seed_recipients,
    settings_for,
    unique_email,
)
from tests.notifier.test_campaign import REGULATIONS, REGULATIONS_PAYLOAD
from tests.support.smtp import SmtpServer, running_smtp
from tests.support.waiting import eventually

RESET = "auth.password_reset.requested"


def _reset(address: str) -> dict[str, Any]:
    return {
        "client_number": "100001",
        "email": address,
        "token": "Hk2wq7bM1sYVtq2mB0Jr9lT5cXQe8pN3aZfU6dG4kL0",
        "expires_at": "2026-01-05T11:00:00+00:00",
    }


# Under implicit TLS aiosmtpd cannot tell that the session is encrypted, and says so.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_tls_and_login(
    database: str, amqp_url: str, bus_prefix: str, billing: Billing, security: str
) -> None:
    tls = "starttls" if security == "starttls" else "implicit"
    with running_smtp(tls=tls, credentials=("ebok", "s3kret-hasło")) as smtp:
        settings = settings_for(
            database,
            amqp_url,
            bus_prefix,
            smtp,
            smtp_security=security,
            smtp_validate_certs=False,  # the test server's certificate is self-signed
            smtp_username="ebok",
            smtp_password=Secret("s3kret-hasło"),
        )
        async with running_notifier(settings) as notifier:
            address = unique_email()
            event = await notifier.emit(RESET, _reset(address))
            await eventually(lambda: notifier.sent(event), "the e-mail to go out over TLS")
        [received] = smtp.to(address)
        assert received.login == "ebok"


async def test_wrong_password_is_retried_not_lost(
    database: str, amqp_url: str, bus_prefix: str
) -> None:
    """A refused login is the relay's configuration, not this e-mail: temporary."""
    with running_smtp(tls="starttls", credentials=("ebok", "dobre")) as smtp:
        settings = settings_for(
            database,
            amqp_url,
            bus_prefix,
            smtp,
            smtp_security="starttls",
            smtp_validate_certs=False,
            smtp_username="ebok",
            smtp_password=Secret("złe"),
        )
        async with running_notifier(settings) as notifier:
            event = await notifier.emit(RESET, _reset(unique_email()))

            async def retried() -> bool:
                row = await notifier.delivery_for(event)
                return row is not None and row["attempts"] >= 2 and row["status"] == "pending"

            await eventually(retried, "the refused login to be retried")
            row = await notifier.delivery_for(event)
            assert row is not None and row["last_answer"].startswith("535")
        assert smtp.count == 0


async def test_connections_are_reused(notifier: Notifier, smtp: SmtpServer) -> None:
    events = [await notifier.emit(RESET, _reset(unique_email())) for _ in range(30)]

    async def all_sent() -> bool:
        return all([await notifier.sent(e) for e in events])

    await eventually(all_sent, "every e-mail to be sent")
    assert smtp.count == 30
    assert len(smtp.connections()) <= notifier.settings.smtp_pool_size


async def test_two_replicas_send_each_email_once(
    database: str, amqp_url: str, bus_prefix: str, smtp: SmtpServer
) -> None:
    settings = settings_for(database, amqp_url, bus_prefix, smtp, campaign_chunk_size=25)
    async with (
        running_notifier(settings) as first,
        running_notifier(settings) as second,
    ):
        people = await seed_recipients(first.pool, 300)
        event = await first.emit(REGULATIONS, dict(REGULATIONS_PAYLOAD))
        resets = [await second.emit(RESET, _reset(unique_email())) for _ in range(20)]

        async def all_sent() -> bool:
            sent = await first.pool.fetchval(
                "SELECT count(*) FROM deliveries WHERE status = 'sent'"
            )
            return bool(sent == len(people) + len(resets))

        await eventually(all_sent, "both replicas to send everything")
        claimed_by_both = await first.pool.fetchval(
            "SELECT count(DISTINCT claimed_by) FROM deliveries"
        )
    copies = smtp.message_ids()
    assert len(copies) == len(people) + len(resets) and set(copies.values()) == {1}
    assert claimed_by_both == 0  # every claim was released with its outcome
    assert event.id


async def _one_connection(
    database: str, amqp_url: str, bus_prefix: str, smtp: SmtpServer
) -> NotifierSettings:
    """One sender worker: every e-mail goes over the one connection it keeps."""
    return settings_for(database, amqp_url, bus_prefix, smtp, smtp_pool_size=1)


async def test_a_kept_connection_cut_at_mail_is_replaced_and_sent_once(
    database: str, amqp_url: str, bus_prefix: str, smtp: SmtpServer
) -> None:
    """The relay drops the kept connection as the next e-mail starts on it: nothing of that
    e-mail reached it, so it goes out at once on a fresh connection, in the same attempt."""
    settings = await _one_connection(database, amqp_url, bus_prefix, smtp)
    async with running_notifier(settings) as notifier:
        first = await notifier.emit(RESET, _reset(unique_email()))
        await eventually(lambda: notifier.sent(first), "the first e-mail to be sent")
        smtp.cut_next(1)
        address = unique_email()
        second = await notifier.emit(RESET, _reset(address))
        await eventually(lambda: notifier.sent(second), "the second e-mail to be sent")
        row = await notifier.delivery_for(second)
    assert row is not None and row["attempts"] == 1 and row["last_answer"].startswith("250")
    assert len(smtp.to(address)) == 1
    assert len(smtp.connections()) == 2  # the cut one and its replacement


async def test_a_fresh_connection_cut_at_mail_is_tried_again_later(
    database: str, amqp_url: str, bus_prefix: str, smtp: SmtpServer
) -> None:
    """Cut on a connection just opened, it is the relay's trouble of the moment: a
    temporary failure for the retry policy, not a loop of reconnections."""
    smtp.cut_next(1)
    settings = await _one_connection(database, amqp_url, bus_prefix, smtp)
    async with running_notifier(settings) as notifier:
        address = unique_email()
        event = await notifier.emit(RESET, _reset(address))
        await eventually(lambda: notifier.sent(event), "the e-mail to go out on a retry")
        row = await notifier.delivery_for(event)
    assert row is not None and row["attempts"] == 2
    assert len(smtp.to(address)) == 1


async def test_connections_cut_between_e_mails_are_replaced(
    database: str, amqp_url: str, bus_prefix: str, smtp: SmtpServer
) -> None:
    settings = settings_for(database, amqp_url, bus_prefix, smtp)
    async with running_notifier(settings) as notifier:
        before = [await notifier.emit(RESET, _reset(unique_email())) for _ in range(6)]

        async def all_sent(events: list[Event]) -> bool:
            return all([await notifier.sent(e) for e in events])

        await eventually(lambda: all_sent(before), "the first e-mails to be sent")
        kept = smtp.connections()
        smtp.cut_connections()
        after = [await notifier.emit(RESET, _reset(unique_email())) for _ in range(6)]
        await eventually(lambda: all_sent(after), "the e-mails after the cut to be sent")
        attempts = {r["attempts"] for r in await notifier.deliveries()}
    assert set(smtp.message_ids().values()) == {1} and smtp.count == 12
    assert attempts == {1}
    assert {m.peer for m in smtp.messages[6:]}.isdisjoint(kept)  # new connections only


async def test_a_refused_e_mail_leaves_the_connection_usable(
    database: str, amqp_url: str, bus_prefix: str, smtp: SmtpServer
) -> None:
    """After a refused recipient the envelope is reset (RSET): the next e-mail goes over the
    same connection (without it the relay would answer its MAIL FROM with 503)."""
    smtp.refuse_next_recipients(1, 550)
    settings = await _one_connection(database, amqp_url, bus_prefix, smtp)
    async with running_notifier(settings) as notifier:
        refused = await notifier.emit(RESET, _reset(unique_email()))
        await eventually(lambda: notifier.has_status(refused, "failed"), "the refusal")
        address = unique_email()
        accepted = await notifier.emit(RESET, _reset(address))
        await eventually(lambda: notifier.sent(accepted), "the next e-mail to be sent")
    [received] = smtp.messages
    assert received.rcpt_tos == (address,)
    assert smtp.refused == 1
    assert len(smtp.connections_used()) == 1


async def test_an_internationalised_domain_goes_in_its_ascii_form(
    notifier: Notifier, smtp: SmtpServer
) -> None:
    """The input rule admits a non-ASCII domain: envelope and To carry its IDNA form, which
    every relay takes (the e-mail is not left to fail on every attempt)."""
    local = f"jan.{uuid.uuid4().hex[:8]}"
    event = await notifier.emit(RESET, _reset(f"{local}@gęślą.pl"))
    await eventually(lambda: notifier.sent(event), "the e-mail to be sent")
    ascii_form = f"{local}@{'gęślą.pl'.encode('idna').decode()}"
    [received] = smtp.to(ascii_form)
    assert received.message()["To"].addresses[0].addr_spec == ascii_form
    row = await notifier.delivery_for(event)
    assert row is not None and row["attempts"] == 1


async def _client(smtp: SmtpServer) -> aiosmtplib.SMTP:
    client = aiosmtplib.SMTP(hostname=smtp.host, port=smtp.port, start_tls=False)
    await client.connect()
    await client.ehlo()
    return client


async def test_data_arrives_as_aiosmtplib_sends_it(smtp: SmtpServer) -> None:
    """send_data stuffs the dots of a CRLF-only message itself (no line ends rewritten, no
    client.data) and gives any other message to client.data: the relay gets, byte for byte,
    what client.data would have sent. An unstuffed lone dot would end the message early, an
    unstuffed '..' would lose a dot."""
    crlf_only = [
        b"Subject: a\r\n\r\nx\r\n.b\r\n.\r\n..c\r\n",
        b".first line\r\nx\r\n",
        b"Subject: b\r\n\r\n" + b"line\r\n" * 500,
        CrlfMessage(b"Subject: e\r\n\r\n.\r\n.x\r\n"),  # compose's mark: not scanned again
    ]
    others = [b"Subject: c\r\n\r\nbare\nLF\n.dot\n", b"Subject: d\r\n\r\nbare\rCR\r\n", b"no end"]
    client = await _client(smtp)
    try:
        for n, message in enumerate(crlf_only + others):
            for how in ("data", "send_data"):
                await client.execute_command(b"MAIL", b"FROM:<ebok@example.pl>")
                await client.execute_command(b"RCPT", f"TO:<{how}{n}@example.pl>".encode())
                if how == "data":
                    answer = await client.data(message)
                elif message in crlf_only:
                    with mock.patch.object(client, "data", side_effect=AssertionError):
                        answer = await send_data(client, message)
                else:
                    answer = await send_data(client, message)
                assert answer.code == 250
        for n in range(len(crlf_only + others)):
            [by_data] = smtp.to(f"data{n}@example.pl")
            [by_send_data] = smtp.to(f"send_data{n}@example.pl")
            assert by_send_data.data == by_data.data
    finally:
        await client.quit()


async def test_data_refused_is_raised_and_the_connection_kept(smtp: SmtpServer) -> None:
    """A refusal of the message (DATA's final answer) is client.data's SMTPDataError, with the
    relay's code; the connection then carries the next message (after RSET, as the sender
    does)."""
    client = await _client(smtp)
    try:
        smtp.fail_next(1, 451)
        await client.execute_command(b"MAIL", b"FROM:<ebok@example.pl>")
        await client.execute_command(b"RCPT", b"TO:<refused@example.pl>")
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await send_data(client, b"Subject: x\r\n\r\nx\r\n")
        assert refused.value.code == 451
        await client.rset()
        await client.execute_command(b"MAIL", b"FROM:<ebok@example.pl>")
        await client.execute_command(b"RCPT", b"TO:<next@example.pl>")
        assert (await send_data(client, b"Subject: y\r\n\r\ny\r\n")).code == 250
        assert [r.rcpt_tos for r in smtp.messages] == [("next@example.pl",)]
    finally:
        await client.quit()
