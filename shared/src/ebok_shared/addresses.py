"""E-mail addresses as e-BOK takes them in: one rule for every place an address comes in
(request bodies through the JSON Schema format ``email``, the portal's forms, billing's feed)
and the notifier's last check before it writes a To header.

An address is a bare ``local@domain``: the local part an ASCII dot-atom (RFC 5322 3.2.3:
letters, digits and ``!#$%&'*+-/=?^_`{|}~``, dots only between them), never a quoted string
(the notifier's MIME library refuses non-ASCII local parts too); the domain dot-separated
labels of letters (non-ASCII ones too: IDN), digits and inner hyphens, with a top-level label
of at least two letters. Angle brackets, quotes, spaces,
backslashes, brackets, commas and control characters are refused anywhere: an address
carrying HTML or a display name is not stored, echoed or sent.
"""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 254  # RFC 5321 4.5.3.1.3 (path 256 minus the angle brackets)
MAX_LOCAL_LENGTH = 64

_ATOM = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+"  # atext
_LOCAL_RE = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*\Z")
_LABEL = r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?"
_DOMAIN_RE = re.compile(rf"^(?:{_LABEL}\.)+[^\W\d_]{{2,63}}\Z")


def _plain_non_ascii(text: str) -> bool:
    """Non-ASCII characters (in a domain) only letters, marks and digits: no symbols,
    spaces, controls or look-alike punctuation such as fullwidth brackets."""
    # Most domains are ASCII: one C call, not a generator step per character.
    return text.isascii() or all(
        ch.isascii() or unicodedata.category(ch)[0] in "LMN" for ch in text
    )


def email_problem(address: str) -> str | None:
    """Why ``address`` is not accepted (Polish, for the field's error), or None when it is."""
    if len(address) > MAX_LENGTH:
        return f"adres e-mail może mieć najwyżej {MAX_LENGTH} znaków"
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or "@" in local:
        return "adres e-mail ma postać nazwa@domena.pl"
    if len(local) > MAX_LOCAL_LENGTH:
        return f"część przed @ może mieć najwyżej {MAX_LOCAL_LENGTH} znaki"
    if not _LOCAL_RE.match(local):
        return "część przed @ może zawierać tylko litery, cyfry, kropki i znaki !#$%&'*+-/=?^_`{|}~"
    if not _DOMAIN_RE.match(domain) or not _plain_non_ascii(domain):
        return "nieprawidłowa domena adresu e-mail"
    return None


def valid_email(address: str) -> bool:
    return email_problem(address) is None
