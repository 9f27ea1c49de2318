"""The local SMTP sink: a real SMTP conversation in, a Maildir file and an escaped web page out."""

from __future__ import annotations

import html
import mailbox
import re
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import aiosmtplib
import pytest

from deploy.sink import RunningSink, start_sink

POLISH_SUBJECT = "Zażółć gęślą jaźń – faktura nr 123456 do zapłaty"


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[RunningSink]:
    running = await start_sink(tmp_path / "var" / "mail")  # folders made as needed
    try:
        yield running
    finally:
        await running.stop()


def _message(subject: str, *, html_body: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "e-BOK MPWiK <ebok@mpwik.com.pl>"
    message["To"] = "Łucja Wędrowna <klient@example.pl>"
    message["Subject"] = subject
    message.set_content("Dzień dobry,\nw załączniku faktura.\n")
    if html_body is not None:
        message.add_alternative(html_body, subtype="html")
    return message


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


async def test_a_polish_message_is_kept_in_the_maildir_and_listed(sink: RunningSink) -> None:
    await aiosmtplib.send(_message(POLISH_SUBJECT), hostname=sink.host, port=sink.smtp_port)

    box = mailbox.Maildir(sink.maildir, create=False)
    assert len(box) == 1
    raw = box.get_bytes(next(iter(box.keys())))
    assert b"=?utf-8?" in raw.lower()  # on the wire the subject was an RFC 2047 encoded-word
    assert b"X-Original-To: klient@example.pl" in raw

    status, page = await _get(sink.url)
    assert status == 200
    assert POLISH_SUBJECT in page
    assert "Łucja Wędrowna &lt;klient@example.pl&gt;" in page

    # no match fails the test with a TypeError, which is what it should do
    link = html.unescape(re.search(r'href="(/messages/[^"]+)"', page)[1])  # type: ignore[index]
    status, view = await _get(sink.url.rstrip("/") + link)
    assert status == 200
    assert "w załączniku faktura." in view


async def test_newest_message_is_listed_first(sink: RunningSink) -> None:
    for subject in ("Pierwsza wiadomość", "Druga wiadomość"):
        await aiosmtplib.send(_message(subject), hostname=sink.host, port=sink.smtp_port)
    _, page = await _get(sink.url)
    assert page.index("Druga wiadomość") < page.index("Pierwsza wiadomość")


async def test_markup_in_a_message_is_never_rendered_in_the_sink_page(sink: RunningSink) -> None:
    hostile = "<script>alert('x')</script> Twoja faktura"
    body = "<p>Faktura</p><script>alert('body')</script><img src=x onerror=alert(1)>"
    await aiosmtplib.send(
        _message(hostile, html_body=body), hostname=sink.host, port=sink.smtp_port
    )

    status, page = await _get(sink.url)
    assert status == 200
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Twoja faktura" in page
    assert "<script" not in page

    # no match fails the test with a TypeError, which is what it should do
    link = html.unescape(re.search(r'href="(/messages/[^"]+)"', page)[1])  # type: ignore[index]
    status, view = await _get(sink.url.rstrip("/") + link)
    assert status == 200
    assert "<script" not in view and "<img" not in view
    # The HTML part is shown only in a sandboxed iframe that allows nothing.
    assert re.search(r'<iframe sandbox="" [^>]*srcdoc="[^"<>]*&lt;script&gt;', view)
