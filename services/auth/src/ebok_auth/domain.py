"""auth domain rules: pure functions and values, no I/O."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from decimal import Decimal, InvalidOperation

CLIENT_NUMBER_RE = re.compile(r"^\d{6}$")
RESTRICT_PASSWORD = "password_change"
RESTRICT_REGULATIONS = "regulations"


def new_token() -> str:
    """A single-use link token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    """Tokens are stored as SHA-256: they carry 256 random bits, so no slow hash is needed."""
    return hashlib.sha256(token.encode()).digest()


def parse_amount(text: str) -> Decimal | None:
    """A gross amount as people type it: "108,00", "108.00", "108"."""
    try:
        value = Decimal(text.strip().replace(" ", "").replace(",", "."))
    except InvalidOperation:
        return None
    return value.quantize(Decimal("0.01")) if value.is_finite() else None


def lockout_seconds(lockouts: int, base: int, maximum: int) -> int:
    """Progressive lockout: base, 2·base, 4·base… capped (Keycloak's wait increment)."""
    return int(min(maximum, base * 2 ** max(0, lockouts - 1)))


def block_date(terminated_on: dt.date, grace_days: int) -> dt.date:
    """Terms II.7: blocked within 30 calendar days of the contract's termination date."""
    return terminated_on + dt.timedelta(days=min(grace_days, 30))


# -- regulations: clauses and what changed ------------------------------------------------

_SECTION_RE = re.compile(r"^\s*([IVX]+)\.\s+(.*)$")
_CLAUSE_RE = re.compile(r"^\s*(\d+|[a-z])\.\s+(.*)$")


def clauses(text: str) -> dict[str, str]:
    """The regulations split into numbered clauses: {"II.7": "W przypadku …", …}; a
    section's title is clause "II"; whitespace is normalised so re-wrapping is no change."""
    found: dict[str, list[str]] = {}
    section, current = "", "preambuła"
    for line in text.splitlines():
        if not line.strip():
            continue
        if m := _SECTION_RE.match(line):
            section = current = m[1]
            found.setdefault(current, []).append(m[2])
            continue
        if section and (m := _CLAUSE_RE.match(line)):
            current = f"{section}.{m[1]}"
            while current in found:  # a repeated letter (the text has two "c.")
                current += "'"
            found[current] = [m[2]]
            continue
        found.setdefault(current, []).append(line)
    return {k: " ".join(" ".join(v).split()) for k, v in found.items()}


def changed_clauses(previous: str, current: str) -> list[dict[str, str | None]]:
    """Each clause added, removed or changed: id, previous text, current text (side by side)."""
    before, after = clauses(previous), clauses(current)
    order = list(after) + [k for k in before if k not in after]
    return [
        {"clause": k, "previous": before.get(k), "current": after.get(k)}
        for k in order
        if before.get(k) != after.get(k)
    ]
