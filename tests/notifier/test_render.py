"""Every template: Polish intact in the subject (as an RFC 2047 encoded word) and in both
bodies after a MIME round trip; nothing a user typed becomes markup; no value can add a
header; the utility's name and the e-BOK address in every footer; links from one base URL."""

from __future__ import annotations

import binascii
import datetime as dt
import email
import email.policy
import random
import re
import uuid
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

import pytest
from ebok_notifier.compose import (
    Attachment,
    CrlfMessage,
    _quoted_printable,
    crlf_only,
    prepare,
    recipient_address,
)
from ebok_notifier.domain import Kind, PermanentFailure, message_id
from ebok_notifier.render import (
    Brand,
    Rendered,
    Renderer,
    RenderError,
    format_amount,
    format_date,
    format_datetime,
)

from tests.shared.test_addresses import ACCEPTED, REFUSED

BASE = "https://ebok.example.pl/portal"
BRAND = Brand(
    utility_name="Wodociągi Miejskie w Łodzi Sp. z o.o.",
    public_base_url=BASE,
    contact_email="bok@example.pl",
    contact_phone="42 000 00 00",
)
SENDER = recipient_address("ebok@example.pl")
HOSTILE = '<script>alert("x")</script> Żółć & "cudzysłów"'
TOKEN = "tok_ŻÓŁĆ-abc"  # not what auth issues, but a link must survive anything

SAMPLES: dict[Kind, dict[str, Any]] = {
    Kind.ACTIVATION: {
        "client_number": "100001",
        "email": "jan@example.pl",
        "activation_token": TOKEN,
        "expires_at": "2026-01-06T10:15:00+00:00",
    },
    Kind.PASSWORD_RESET: {
        "client_number": "100001",
        "email": "jan@example.pl",
        "token": TOKEN,
        "expires_at": "2026-01-06T10:15:00+00:00",
    },
    Kind.EMAIL_CHANGE: {
        "client_number": "100001",
        "new_email": "nowy@example.pl",
        "token": TOKEN,
        "expires_at": "2026-01-06T10:15:00+00:00",
    },
    Kind.LOCKOUT: {
        "client_number": "100001",
        "email": "jan@example.pl",
        "until": "2026-01-06T10:15:00+00:00",
    },
    Kind.PASSWORD_CHANGED: {
        "client_number": "100001",
        "email": "jan@example.pl",
        "how": "reset",
        "changed_at": "2026-01-06T10:15:00+00:00",
    },
    Kind.OPERATOR_PASSWORD_CHANGED: {
        "login": "anna.nowak",
        "email": "anna.nowak@mpwik.example",
        "changed_at": "2026-01-06T10:15:00+00:00",
    },
    Kind.TOTP_CHANGED: {
        "client_number": "100001",
        "email": "jan@example.pl",
        "enabled": False,
        "changed_at": "2026-01-06T10:15:00+00:00",
    },
    Kind.REGULATIONS: {
        "version": 2,
        "effective_from": "2026-03-01T00:00:00+01:00",
        "summary": f"Zmieniamy zasady zgłaszania odczytów. {HOSTILE}",
    },
    Kind.BLOCK_SCHEDULED: {
        "client_number": "100001",
        "email": "jan@example.pl",
        "block_on": "2026-11-30",
    },
    Kind.ACCOUNT_BLOCKED: {
        "client_number": "100001",
        "email": "jan@example.pl",
        "reason": f"Naruszenie regulaminu: {HOSTILE}",
        "by": "operator:7",
    },
    Kind.ACCOUNT_DELETED: {"client_number": "100001"},
    Kind.EMAIL_CHANGED: {
        "client_number": "100001",
        "email": "jan.nowy@example.pl",
        "previous_email": "jan@example.pl",
    },
    Kind.CASE_RECEIVED: {
        "case_id": "5b1f0c1e-8a4e-4a37-9a51-2f3c1d9e7a10",
        "case_number": "EBOK/2026/000123",
        "client_number": "100001",
        "kind": "water_quality_complaint",
        "urgent": False,
        "submitted_at": "2026-03-02T09:15:00+00:00",
        "reply_due": "2026-03-16",
        "attachments": 2,
    },
    Kind.CASE_ANSWERED: {
        "case_id": "5b1f0c1e-8a4e-4a37-9a51-2f3c1d9e7a10",
        "case_number": "EBOK/2026/000123",
        "client_number": "100001",
        "kind": "letter",
        "reply_id": "0e6f6a52-3c1b-4b8e-8d0a-6a2e5f1c9b44",
        "answered_at": "2026-03-05T12:00:00+00:00",
    },
    Kind.PAYMENT_RECEIPT: {
        "order_id": "0b8e2f8c-55a4-4c43-9a57-2d7c1b1f3c11",
        "client_number": "100001",
        "status": "paid",
        "amount": "1245.10",
        "invoice_numbers": ["10000126030003", "10000125110001"],
        "note_numbers": ["NO/10000126010002/01"],
        "changed_at": "2026-03-20T10:15:00+00:00",
        "provider_order_id": "WZHF5FFDRJ140731GUEST000P01",
    },
    Kind.READING_REJECTED: {
        "reading_id": "7d0f3a52-6c1e-4b7a-9a43-2f6e8b1c5d90",
        "meter_serial": "WM-100001-1",
        "contract_number": "U/100001/2024",
        "client_number": "100001",
        "value": "9999.000",
        "read_on": "2026-01-31",
        "kind": "main",
        "source": "customer",
        "reason": f"Zdjęcie nieczytelne. {HOSTILE}",
    },
    Kind.GARDEN_REQUEST_DECIDED: {
        "request_id": "0b8a6f1e-2d3c-4e5f-8a9b-1c2d3e4f5a6b",
        "client_number": "100001",
        "contract_number": "U/100001/2024",
        "kind": "removal",
        "decision": "rejected",
        "reason": f"Brak protokołu zdjęcia plomby. {HOSTILE}",
        "decided_at": "2026-04-05T11:00:00+00:00",
    },
    Kind.GARDEN_READING_DUE: {
        "client_number": "100001",
        "contract_number": "U/100001/2024",
        "meter_serial": "OG-2026-001",
        "due_on": "2026-09-15",
        "last_read_on": None,
    },
    Kind.GARDEN_LEGALISATION_EXPIRING: {
        "client_number": "100001",
        "contract_number": "U/100001/2024",
        "meter_serial": "OG-2021-007",
        "seal_number": "PL-654321",
        "sealed_on": "2021-05-20",
        "expires_on": "2026-05-20",
    },
    Kind.LEAK_SUSPECTED: {
        "reading_id": "7d0f3a52-6c1e-4b7a-9a43-2f6e8b1c5d90",
        "client_number": "100001",
        "contract_number": "U/100001/2024",
        "meter_serial": "WM-100001-1",
        "read_on": "2026-02-28",
        "value": "1264.567",
        "daily_consumption": "1.071",
        "baseline_daily": "0.320",
    },
    Kind.E_INVOICE: {
        "invoice_number": "10000126010001",
        "client_number": "100001",
        "issue_date": "2026-01-05",
        "due_date": "2026-01-19",
        "net": "1000.00",
        "vat": "80.00",
        "gross": "1080.00",
        "ksef_number": "KSeF-123",
        "delivery": "e-mail",
        "e_invoice_email": "jan@example.pl",
    },
    Kind.E_INVOICE_CONFIRM: {
        "client_number": "100001",
        "email": "jan@example.pl",
        "token": TOKEN,
        "purpose": "accept",
        "expires_at": "2026-01-08T10:15:00+00:00",
    },
    Kind.E_INVOICE_CONSENT: {
        "client_number": "100001",
        "status": "withdrawn",
        "email": None,
        "changed_at": "2026-02-01T08:00:00+00:00",
        "source": "customer",
    },
    Kind.INTEREST_NOTE: {
        "note_number": "NO/10000226010001/01",
        "client_number": "100001",
        "invoice_number": "10000226010001",
        "payment_id": None,
        "reason": "on-demand",
        "issue_date": "2026-03-21",
        "kind": "commercial",
        "principal": "1000.00",
        "due_date": "2026-01-20",
        "interest_to": "2026-03-20",
        "days_late": 59,
        "periods": [
            {
                "from": "2026-01-21",
                "to": "2026-03-20",
                "days": 59,
                "annual_rate_percent": "15.75",
                "amount": "25.46",
            }
        ],
        "amount": "25.46",
        "payable_by": "2026-04-04",
        "recovery_compensation": {
            "eur": "40.00",
            "eur_pln_rate": "4.2730",
            "rate_date": "2025-12-31",
            "rate_table": "252/A/NBP/2025",
            "pln": "170.92",
        },
        "total": "196.38",
    },
    Kind.EVIDENCE_REQUESTED: {
        "case_id": "5b1f0c1e-8a4e-4a37-9a51-2f3c1d9e7a10",
        "case_number": "EBOK/2026/000123",
        "client_number": "100001",
        "kind": "reklamacja",
        "requested_at": "2026-03-05T12:00:00+00:00",
        "reply_due": "2026-04-01",
    },
    Kind.GARDEN_REQUEST_RECEIVED: {
        "request_id": "0b8a6f1e-2d3c-4e5f-8a9b-1c2d3e4f5a6b",
        "client_number": "100001",
        "contract_number": "U/100001/2024",
        "kind": "replacement",
        "done_on": "2026-04-02",
        "new_serial": "OG-2026-002",
        "old_serial": "OG-2021-007",
        "submitted_at": "2026-04-03T08:00:00+00:00",
    },
    Kind.REGISTRATION_NOTICE: {
        "client_number": "100001",
        "registered_at": "2026-01-05T10:15:00+00:00",
    },
}

RENDERER = Renderer(BRAND)


def _round_trip(kind: Kind, context: dict[str, Any], **kw: Any) -> tuple[bytes, EmailMessage]:
    rendered = RENDERER.render(kind, context)
    raw = prepare(rendered, sender=SENDER, **kw).finish(
        recipient="jan@example.pl",
        message_id=message_id(uuid.uuid4(), "jan@example.pl", "example.pl"),
        date=dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC),
    )
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return raw, parsed


def _bodies(parsed: EmailMessage) -> tuple[str, str]:
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_every_kind_has_a_sample() -> None:
    assert set(SAMPLES) == set(Kind)


@pytest.mark.parametrize("kind", list(Kind))
def test_every_template_renders_polish_intact(kind: Kind) -> None:
    raw, parsed = _round_trip(kind, SAMPLES[kind])
    subject = RENDERER.render(kind, SAMPLES[kind]).subject
    raw_subject = raw.split(b"\r\nSubject: ", 1)[1].split(b"\r\n")[0]
    if not subject.isascii():
        assert b"=?utf-8?" in raw_subject  # an RFC 2047 encoded word, not raw 8-bit
    assert parsed["Subject"] == subject
    text, html = _bodies(parsed)
    rendered = RENDERER.render(kind, SAMPLES[kind])
    assert text.replace("\r\n", "\n") == rendered.text  # byte for byte after the round trip
    assert html.replace("\r\n", "\n") == rendered.html
    for body in (text, html):
        assert "Dzień dobry" in body and "Dział Obsługi Klienta" in body
        assert "Wodociągi Miejskie w Łodzi Sp. z o.o." in body  # the footer, diacritics intact
        assert BASE in body
    assert parsed.get_content_charset() is None or parsed.get_content_charset() == "utf-8"


@pytest.mark.parametrize("kind", list(Kind))
def test_every_link_starts_at_the_public_base_url(kind: Kind) -> None:
    text, html = _bodies(_round_trip(kind, SAMPLES[kind])[1])
    links = re.findall(r"https?://[^\s\"<>]+", text) + re.findall(r'href="(http[^"]+)"', html)
    assert links
    assert all(link.startswith(BASE + "/") for link in links), links


@pytest.mark.parametrize(
    "kind",
    [Kind.REGULATIONS, Kind.ACCOUNT_BLOCKED, Kind.READING_REJECTED, Kind.GARDEN_REQUEST_DECIDED],
)
def test_user_input_stays_text_in_html(kind: Kind) -> None:
    _text, html = _bodies(_round_trip(kind, SAMPLES[kind])[1])
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Żółć &amp; &#34;cudzysłów&#34;" in html


def test_tokens_in_links_are_encoded() -> None:
    text, html = _bodies(_round_trip(Kind.ACTIVATION, SAMPLES[Kind.ACTIVATION])[1])
    link = f"{BASE}/aktywacja?token=tok_%C5%BB%C3%93%C5%81%C4%86-abc"
    assert link in text and f'href="{link}"' in html


def test_a_value_with_cr_lf_cannot_add_a_header() -> None:
    injected = "1\r\nBcc: intruz@example.com\r\n\r\n<b>x</b>"
    for kind, field in ((Kind.E_INVOICE, "invoice_number"), (Kind.REGULATIONS, "version")):
        raw, parsed = _round_trip(kind, {**SAMPLES[kind], field: injected})
        header_lines = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        assert not [line for line in header_lines if line.lower().startswith(b"bcc")]
        assert parsed["Bcc"] is None
        assert "\n" not in parsed["Subject"] and "\r" not in parsed["Subject"]


@pytest.mark.parametrize(
    "address", ["jan@example.pl\r\nBcc: intruz@example.com", "Jan <jan@example.pl>", "a@b@c", ""]
)
def test_a_recipient_that_is_not_one_bare_address_is_refused(address: str) -> None:
    with pytest.raises(PermanentFailure):
        recipient_address(address)


def test_the_to_header_of_every_address_taken_in() -> None:
    """finish() writes an ASCII address as it stands (the stdlib's parse of it is slow): for
    every address the input rule accepts, the header is the one the stdlib's policy would
    write and parses back to the address; an internationalised domain goes in its ASCII
    form; what the rule refuses is refused here too."""
    prepared = prepare(Rendered("Temat", "treść\n", "<p>treść</p>\n"), sender=SENDER)
    now = dt.datetime.now(dt.UTC)
    for address in ACCEPTED:
        raw = prepared.finish(recipient=address, message_id="<1@x.pl>", date=now)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        [to] = parsed["To"].addresses
        if address.isascii():
            stdlib = email.policy.SMTP.fold_binary("To", str(recipient_address(address)))
            assert raw.startswith(stdlib) and to.addr_spec == address
        else:
            local, domain = address.split("@")
            assert (to.username, to.domain) == (local, domain.encode("idna").decode())
            assert to.domain.startswith("xn--")
    for address in REFUSED:
        with pytest.raises(PermanentFailure):
            prepared.finish(recipient=address, message_id="<1@x.pl>", date=now)


def test_sender_name_and_long_subjects_are_encoded_and_folded() -> None:
    sender = Address(display_name="e-BOK Wodociągów „Łódź”", addr_spec="ebok@example.pl")
    subject = "Zażółć gęślą jaźń — " * 8
    rendered = Rendered(subject=subject.strip(), text="treść\n", html="<p>treść</p>\n")
    raw = prepare(rendered, sender=sender).finish(
        recipient="jan@example.pl", message_id="<1@example.pl>", date=dt.datetime.now(dt.UTC)
    )
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == subject.strip()
    assert parsed["From"].addresses[0].display_name == "e-BOK Wodociągów „Łódź”"


def test_subject_is_one_line_whatever_the_template_gives() -> None:
    context = {**SAMPLES[Kind.E_INVOICE], "invoice_number": "1\n2\r\n3"}
    assert (
        RENDERER.render(Kind.E_INVOICE, context).subject == "E-faktura nr 1 2 3 z 5 stycznia 2026"
    )


def test_attachment_beside_both_alternatives() -> None:
    pdf = Attachment("faktura-1.pdf", "application/pdf", b"%PDF-1.4 x")
    _raw, parsed = _round_trip(Kind.E_INVOICE, SAMPLES[Kind.E_INVOICE], attachments=[pdf])
    assert parsed.get_content_type() == "multipart/mixed"
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_filename() == "faktura-1.pdf"
    assert attachment.get_content() == b"%PDF-1.4 x"
    assert all(_bodies(parsed))


def test_activation_email_carries_a_link_and_no_password() -> None:
    text, _html = _bodies(_round_trip(Kind.ACTIVATION, SAMPLES[Kind.ACTIVATION])[1])
    assert f"{BASE}/aktywacja?token=" in text
    assert "nie zawiera hasła" in text


def test_payment_receipt_names_the_amount_and_what_it_paid() -> None:
    text, html = _bodies(_round_trip(Kind.PAYMENT_RECEIPT, SAMPLES[Kind.PAYMENT_RECEIPT])[1])
    for body in (text, html):
        assert "1\u00a0245,10\u00a0zł" in body
        assert "10000126030003, 10000125110001" in body and "NO/10000126010002/01" in body
        assert f"{BASE}/platnosci/0b8e2f8c-55a4-4c43-9a57-2d7c1b1f3c11" in body


def test_polish_formats() -> None:
    assert format_date("2026-01-19") == "19 stycznia 2026"
    assert format_date("2026-02-28T23:30:00+00:00") == "1 marca 2026"  # Warsaw is UTC+1
    assert format_datetime("2026-07-01T10:05:00+00:00") == "1 lipca 2026, godz. 12:05"
    assert format_amount("1234567.5") == "1\u00a0234\u00a0567,50\u00a0zł"
    assert format_amount("-8.00") == "-8,00\u00a0zł"


def test_message_id_is_derived_from_event_and_recipient() -> None:
    event = uuid.uuid4()
    first = message_id(event, "Jan@Example.pl", "example.pl")
    assert first == message_id(event, "jan@example.pl ", "example.pl")
    assert first != message_id(event, "anna@example.pl", "example.pl")
    assert first != message_id(uuid.uuid4(), "jan@example.pl", "example.pl")
    assert re.fullmatch(r"<[0-9a-f]{32}@example\.pl>", first)


def test_an_interest_note_e_mail_gives_its_working() -> None:
    _, parsed = _round_trip(Kind.INTEREST_NOTE, SAMPLES[Kind.INTEREST_NOTE])
    assert (
        parsed["Subject"] == "Nota odsetkowa nr NO/10000226010001/01 do faktury nr 10000226010001"
    )
    text, _ = _bodies(parsed)
    assert "od 21 stycznia 2026 do 20 marca 2026: 59 dni, 15,75% w skali roku" in text
    assert "Rekompensata za koszty odzyskiwania należności: 40,00 EUR" in text
    assert "Razem do zapłaty z noty: 196,38\u00a0zł, w terminie do 4 kwietnia 2026." in text


def test_the_registration_notice_carries_no_link_with_a_secret() -> None:
    _, parsed = _round_trip(Kind.REGISTRATION_NOTICE, SAMPLES[Kind.REGISTRATION_NOTICE])
    text, html = _bodies(parsed)
    assert "numeru klienta 100001" in text and "bok@example.pl" in text
    assert "aktywacja" not in text and "aktywacja" not in html


def test_message_id_is_the_uuid5_of_event_and_recipient() -> None:
    """The Message-ID keeps the value it always had (uuid5 over the namespace), so an e-mail
    queued before an upgrade keeps its Message-ID after it (a resend is recognised)."""
    namespace = uuid.UUID("6f1c3a57-4b0e-4d8f-9a43-0eb0c0000001")
    for recipient in ["jan@example.pl", " Jan@Example.PL", "żółć@łódź.pl", "a@b.c"]:
        event = uuid.uuid4()
        name = f"{event}/{recipient.strip().lower()}"
        expected = f"<{uuid.uuid5(namespace, name).hex}@example.pl>"
        assert message_id(event, recipient, "example.pl") == expected


def _masked(raw: bytes) -> bytes:
    return re.sub(rb"=_ebok_[0-9a-f]{32}", b"BOUNDARY", raw)


@pytest.mark.parametrize("kind", list(Kind))
def test_layout_lines_encoded_once_give_the_same_bytes(kind: Kind) -> None:
    """The layout's lines, quoted-printable once for all e-mails, make the very bytes that
    encoding each e-mail whole makes; and they are really used (found in the HTML part)."""
    for context in (SAMPLES[kind], {**SAMPLES[kind], "client_number": "1 \n.\n" + "ą=" * 60}):
        rendered = RENDERER.render(kind, context)
        assert rendered.html_static
        assert all(run in rendered.html for run in rendered.html_static)
        whole = Rendered(rendered.subject, rendered.text, rendered.html)  # nothing known
        assert _masked(prepare(rendered, sender=SENDER).rest) == _masked(
            prepare(whole, sender=SENDER).rest
        )


def test_layout_lines_hold_nothing_of_an_event() -> None:
    """What is kept for every e-mail comes from the layouts alone: no token, no address."""
    rendered = RENDERER.render(Kind.PASSWORD_RESET, {**SAMPLES[Kind.PASSWORD_RESET]})
    kept = "".join(rendered.text_static + rendered.html_static)
    for value in SAMPLES[Kind.PASSWORD_RESET].values():
        if isinstance(value, str) and len(value) > 3:
            assert value not in kept


def test_quoted_printable_in_pieces_is_b2a_qp() -> None:
    """Pieces at line starts, encoded apart, are what b2a_qp makes of the whole: dots and
    blanks at line and data ends, '=', non-ASCII, long lines, CR (then all at once)."""
    pieces = ["a", "=", ".", " ", "\t", "ą", "\n", "\n", "x" * 30, "y" * 75, "\r", "\x0c", "é"]
    rnd = random.Random(17)
    for _ in range(20_000):
        content = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 40)))
        known = []
        for _ in range(rnd.randint(1, 3)):
            a = rnd.randint(0, len(content))
            b = rnd.randint(a, len(content))
            if b > a:
                known.append(content[a:b])
        assert _quoted_printable(content, known) == binascii.b2a_qp(content.encode())


@pytest.mark.parametrize("kind", list(Kind))
def test_finished_message_is_marked_crlf_only_when_it_is(kind: Kind) -> None:
    """compose marks a message CRLF-only (transport.send_data then does not scan it) only when
    it is, and it is for ordinary values; a value with a lone CR leaves the message unmarked,
    and it goes through client.data's rewriting as before."""
    now = dt.datetime.now(dt.UTC)
    attachments = [Attachment("f.pdf", "application/pdf", b"%PDF\r\n\n\r" * 40)]
    for value, ordinary in [
        ("zwykły", True),
        ("a\r\nb\n", True),
        ("a\rb", False),
        ("\r\r\n", False),
    ]:
        context = {**SAMPLES[kind], "client_number": value}
        try:
            rendered = RENDERER.render(kind, context)
        except RenderError:
            continue
        for extra in ([], attachments):
            message = prepare(rendered, sender=SENDER, attachments=extra).finish(
                recipient="jan@example.pl", message_id="<1@example.pl>", date=now
            )
            if type(message) is CrlfMessage:
                assert crlf_only(bytes(message))
            if ordinary:
                assert type(message) is CrlfMessage
            if "a\rb" in rendered.text:
                assert type(message) is not CrlfMessage
                assert not crlf_only(bytes(message))
