"""Reading what e-BOK sent: the SMTP sink keeps every message in a Maildir (``new/``); the
sink puts the envelope's recipients on top as ``X-Original-To``."""

from __future__ import annotations

import asyncio
import email.policy
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

_PARSER = BytesParser(policy=email.policy.default)
_URL = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True)
class Mail:
    key: str
    to: str
    subject: str
    text: str  # the text/plain part

    def links(self) -> list[str]:
        return _URL.findall(self.text)

    def token(self, page: str) -> str:
        """The ``token`` of the first link to the front-end ``page`` (e.g. "/aktywacja")."""
        for link in self.links():
            parts = urlsplit(link)
            if parts.path == page:
                found = parse_qs(parts.query).get("token")
                if found:
                    return found[0]
        raise AssertionError(f"no {page}?token=… link in the e-mail {self.subject!r}:\n{self.text}")


def _read(path: Path) -> Mail:
    message = _PARSER.parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    to = str(message.get("X-Original-To") or message.get("To") or "")
    return Mail(path.name, to.strip().lower(), str(message.get("Subject", "")), text)


# Each message read once per test process: a Maildir message never changes after delivery (the
# sink writes it in tmp/ and links it into new/), and ``wait_for_mail`` looks again every 0.2 s
# at a Maildir that, on a stack shared by many modules, holds hundreds of messages (parsing them
# all on every look was most of the CPU a test spent waiting for its one e-mail).
_READ: dict[Path, Mail] = {}


def _kept(path: Path) -> Mail:
    mail = _READ.get(path)
    if mail is None:
        mail = _READ[path] = _read(path)
    return mail


def all_mail(maildir: Path) -> list[Mail]:
    """Every message kept so far, oldest first (Maildir names start with the time)."""
    paths = [p for sub in ("new", "cur") for p in (maildir / sub).glob("*") if p.is_file()]
    return sorted((_kept(p) for p in paths), key=lambda m: m.key)


def mail_to(maildir: Path, address: str) -> list[Mail]:
    return [m for m in all_mail(maildir) if m.to == address.lower()]


async def wait_for_mail(
    maildir: Path,
    to: str,
    matching: Callable[[Mail], bool] = lambda _: True,
    *,
    within: float = 30.0,
) -> Mail:
    """The first e-mail to ``to`` that ``matching`` accepts; fails after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        found = [m for m in mail_to(maildir, to) if matching(m)]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            got = [m.subject for m in mail_to(maildir, to)]
            raise AssertionError(f"no matching e-mail to {to} within {within:.0f} s; got {got}")
        await asyncio.sleep(0.2)


def subject_has(fragment: str) -> Callable[[Mail], bool]:
    return lambda mail: fragment in mail.subject
