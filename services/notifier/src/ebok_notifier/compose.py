"""One e-mail as MIME: plain text and HTML alternatives, attachments, and headers that no
value from an event can extend (the stdlib refuses CR/LF in a header; subjects are already
one line; the recipient is parsed as one bare address, never pasted).

An e-mail is prepared once (MIME structure, subject, body, attachments, as bytes) and
finished per recipient by putting To, Message-ID and Date in front: a campaign's 100,000
e-mails share one preparation."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import Address
from email.utils import format_datetime, formataddr

from ebok_shared.addresses import valid_email

from .domain import PermanentFailure
from .render import Rendered


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # "application/pdf"
    data: bytes


def recipient_address(recipient: str) -> Address:
    """A bare address (``jan@example.pl``) as a header value; anything else is refused."""
    ascii_address(recipient)
    try:
        address = Address(addr_spec=recipient)
    except (HeaderParseError, ValueError, IndexError) as exc:
        raise PermanentFailure(f"nieprawidłowy adres odbiorcy: {recipient!r} ({exc})") from None
    if not address.username or not address.domain:
        raise PermanentFailure(f"nieprawidłowy adres odbiorcy: {recipient!r}")
    return address


def ascii_address(recipient: str) -> str:
    """The address as it goes in the To header and the envelope (RCPT TO): checked by the
    input rule (ebok_shared.addresses: a dot-atom, @, a domain's labels; nothing a header or
    a command could be extended with), an internationalised domain in its ASCII (IDNA) form,
    which every relay takes (the local part is ASCII by the same rule). As it stands, the
    stdlib's parse of it (about 40 µs an e-mail) would find the same address."""
    if not valid_email(recipient) or any(c in recipient for c in '\r\n<>,;" '):
        raise PermanentFailure(f"nieprawidłowy adres odbiorcy: {recipient!r}")
    if recipient.isascii():
        return recipient
    local, _, domain = recipient.rpartition("@")
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        raise PermanentFailure(f"nieprawidłowa domena adresu odbiorcy: {recipient!r}") from None


class CrlfMessage(bytes):
    """A whole message whose every CR and LF is part of a CRLF pair, ending with one: what
    transport.send_data otherwise finds out by scanning the message (three passes over it)."""


def crlf_only(message: bytes) -> bool:
    """Every CR and every LF of ``message`` in a CRLF pair, and the message ends with one."""
    if type(message) is CrlfMessage:
        return True
    pairs = message.count(b"\r\n")
    return (
        message.endswith(b"\r\n")
        and message.count(b"\n") == pairs
        and message.count(b"\r") == pairs
    )


@dataclass(frozen=True)
class Prepared:
    """An e-mail without its per-recipient headers, as bytes; ``crlf``: known to hold no CR or
    LF outside a CRLF pair (then each finished message is a CrlfMessage)."""

    rest: bytes
    crlf: bool = False

    def finish(self, *, recipient: str, message_id: str, date: dt.datetime) -> bytes:
        """The whole message for one recipient (CRLF line ends, ready for DATA)."""
        to = f"To: {ascii_address(recipient)}\r\n".encode("ascii")
        if not message_id.isascii() or any(c in message_id for c in "\r\n"):
            raise PermanentFailure(f"nieprawidłowy Message-ID: {message_id!r}")
        when = _date(date.replace(microsecond=0), date.tzinfo, date.fold)
        head = f"Message-ID: {message_id}\r\nDate: {when}\r\n".encode("ascii")
        # To (a checked address), Message-ID (checked) and Date (formatted) have no CR or LF
        # of their own.
        if self.crlf:
            return CrlfMessage(to + head + self.rest)
        return to + head + self.rest


@functools.lru_cache(maxsize=4)
def _date(moment: dt.datetime, zone: dt.tzinfo | None, fold: int) -> str:
    """The Date header's value, remembered: it counts whole seconds, and the e-mails sent in
    one second share it (the stdlib's formatting took as long as encoding the HTML part).
    ``zone`` and ``fold`` are part of the key: datetimes that compare equal (one instant in two
    zones, an hour repeated when the clocks go back) can be written differently."""
    return format_datetime(moment)


def prepare(
    rendered: Rendered, *, sender: Address, attachments: Sequence[Attachment] = ()
) -> Prepared:
    """multipart/alternative (plain text, HTML), inside multipart/mixed when there are
    attachments. Written directly rather than through ``email.message`` (which takes ~20×
    longer); the result is read back by the standard parser in the tests."""
    if "\r" in rendered.subject or "\n" in rendered.subject:
        raise PermanentFailure("temat wiadomości ma więcej niż jedną linię")
    head = (
        _from(sender.display_name, sender.username, sender.domain)
        + _header("Subject", rendered.subject)
        + b"Auto-Submitted: auto-generated\r\n"  # RFC 3834: no auto-replies, please
        + b"MIME-Version: 1.0\r\n"
    )
    text, html = _lf(rendered.text), _lf(rendered.html)
    body = _multipart(
        "alternative",
        [_text(text, "plain", rendered.text_static), _text(html, "html", rendered.html_static)],
    )
    # Quoted-printable of text without CR has none (its line ends, LF, become CRLF), nor has
    # base64; the boundaries' lines are CRLF; the headers are checked here, attachments' below.
    crlf = "\r" not in text and "\r" not in html and crlf_only(head)
    if attachments:
        parts = [_attachment(a) for a in attachments]
        crlf = crlf and all(crlf_only(part) for part in parts)
        body = _multipart("mixed", [body, *parts])
    rest = head + body
    return Prepared(rest, crlf=crlf and rest.endswith(b"\r\n"))


def _lf(content: str) -> str:
    """The templates write LF; only a value from an event may have CR (CRLF made LF)."""
    return content.replace("\r\n", "\n") if "\r" in content else content


@functools.lru_cache(maxsize=256)
def _header(name: str, value: str) -> bytes:
    """One header, RFC 2047 encoded words when not ASCII, folded at 78 columns. Remembered:
    the stdlib's encoder takes 20-60 µs, and From and most subjects are the same for every
    e-mail of a kind."""
    folded = Header(value, header_name=name, maxlinelen=78).encode(linesep="\r\n")
    return f"{name}: {folded}\r\n".encode("ascii")


@functools.lru_cache(maxsize=16)
def _from(name: str, username: str, domain: str) -> bytes:
    """The From header, remembered: it is the same for every e-mail, and the stdlib formats
    the address (``Address.addr_spec``) and the display name (``formataddr``) anew on each
    call, ~60 µs an e-mail, more than a third of preparing it."""
    address = Address(username=username, domain=domain).addr_spec
    return _header("From", formataddr((name, address), charset="utf-8") if name else address)


def _text(content: str, subtype: str, static: Sequence[str] = ()) -> bytes:
    """A quoted-printable part of ``content`` (line ends LF, made CRLF here)."""
    encoded = _quoted_printable(content, static).replace(b"\n", b"\r\n")
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode("ascii") + encoded


def _quoted_printable(content: str, static: Sequence[str]) -> bytes:
    """``binascii.b2a_qp`` of ``content``, byte for byte, with the runs of lines in ``static``
    (template text, no value from an event) encoded once rather than per e-mail: most of an
    HTML part is its layout, and encoding it was a third of building the e-mail.

    Quoted-printable with LF line ends is line by line: whether a byte is escaped, and where a
    line is broken, depends only on its own line (a byte at the very end of the data is the
    one exception: a space or tab there is escaped, as is a lone dot). So pieces that start
    at a line start and end with a line end (or at the end of ``content``) can be encoded
    apart and joined. A CR anywhere (b2a_qp would take CRLF line ends if it met one first)
    and runs not found at a line start are simply encoded with the rest."""
    if not static or "\r" in content:
        return binascii.b2a_qp(content.encode("utf-8"))
    pieces: list[bytes] = []
    start = 0
    for run in static:
        at = content.find(run, start)
        if at < 0 or (at > 0 and content[at - 1] != "\n"):
            continue
        end = at + len(run)
        if run[-1] != "\n" and end != len(content):
            continue
        if at > start:
            pieces.append(binascii.b2a_qp(content[start:at].encode("utf-8")))
        pieces.append(_encoded_run(run))
        start = end
    if start < len(content):
        pieces.append(binascii.b2a_qp(content[start:].encode("utf-8")))
    return b"".join(pieces)


@functools.lru_cache(maxsize=64)
def _encoded_run(run: str) -> bytes:
    """A run of template lines, quoted-printable (only the layouts' runs come here)."""
    return binascii.b2a_qp(run.encode("utf-8"))


def _attachment(attachment: Attachment) -> bytes:
    filename = attachment.filename
    if not filename.isascii() or any(c in filename for c in '"\\\r\n'):
        raise PermanentFailure(f"nieprawidłowa nazwa załącznika: {filename!r}")
    encoded = base64.encodebytes(attachment.data).replace(b"\n", b"\r\n")
    return (
        f"Content-Type: {attachment.content_type}\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        f'Content-Disposition: attachment; filename="{filename}"\r\n\r\n'
    ).encode("ascii") + encoded


def _multipart(subtype: str, parts: Sequence[bytes]) -> bytes:
    # "=_" never occurs in quoted-printable or base64 text, so no part can contain it; the
    # random part only keeps a nested multipart's boundary apart from its parent's (no
    # secret: the process's PRNG, not a system call per e-mail).
    boundary = f"=_ebok_{random.getrandbits(128):032x}"
    out = [f'Content-Type: multipart/{subtype};\r\n boundary="{boundary}"\r\n\r\n'.encode()]
    for part in parts:  # the CRLF before a delimiter belongs to the delimiter (RFC 2046)
        out += [f"--{boundary}\r\n".encode(), part, b"\r\n"]
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)
