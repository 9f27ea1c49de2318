"""auth domain rules: pure functions and values, no I/O."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import secrets
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ebok_shared.refusals import Refusal

CLIENT_NUMBER_RE = re.compile(r"^\d{6}$")
OPERATOR_LOGIN_RE = re.compile(r"^[a-z][a-z0-9._-]{2,39}$")  # schemas.OPERATOR_LOGIN too
RESTRICT_PASSWORD = "password_change"
RESTRICT_REGULATIONS = "regulations"
SYSTEM_CONTRACT_END = "system:contract-end"
CONTRACT_END_REASON = (
    "Rozwiązanie umowy na dostawę wody i/lub odprowadzanie ścieków (regulamin II.7)."
)


# -- refusals particular to auth ------------------------------------------------------------


class Throttled(Refusal):
    """Too many attempts in a fixed window; ``retry_after`` seconds until it ends (the HTTP
    edge sends them as Retry-After)."""

    retry_after: int

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            429,
            "rate-limited",
            "Zbyt wiele prób. Spróbuj ponownie za chwilę.",
            retry_after=retry_after,
        )


def link_gone(what: str) -> Refusal:
    return Refusal(
        410, "link-invalid", f"Link {what} jest nieprawidłowy, wygasł albo został już użyty."
    )


def session_ended(detail: str) -> Refusal:
    return Refusal(401, "session-ended", detail)


# -- sessions: who tokens are for, and what a login answers ---------------------------------


@dataclass(frozen=True)
class Grant:
    """Who the tokens are for and what they may do."""

    kind: str  # customer | operator
    subject: str
    roles: list[str]
    restrictions: list[str]


@dataclass(frozen=True)
class Issued:
    session_id: uuid.UUID
    access_token: str
    refresh_token: str
    expires_in: int
    restrictions: list[str]
    roles: list[str] | None = None  # an operator's (what the console shows them); customers: None

    def to_dict(self) -> dict[str, Any]:
        answer = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "refresh_token": self.refresh_token,
            "expires_in": self.expires_in,
            "password_change_required": RESTRICT_PASSWORD in self.restrictions,
            "restrictions": self.restrictions,
        }
        if self.roles is not None:
            answer["roles"] = self.roles
        return answer


def restrictions_for(must_change_password: bool, accepted: int, current: int) -> list[str]:
    """What a new token for an account is restricted to (empty: full access), given the
    newest regulations version it accepted and the one in force."""
    found = []
    if must_change_password:
        found.append(RESTRICT_PASSWORD)
    if accepted < current:
        found.append(RESTRICT_REGULATIONS)
    return found


def operator_grant(login: str, roles: list[str], must_change_password: bool) -> Grant:
    return Grant("operator", login, roles, [RESTRICT_PASSWORD] if must_change_password else [])


def session_uuid(session_id: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(session_id) if session_id else None
    except ValueError:
        return None


def rate_window(now: dt.datetime, seconds: int) -> tuple[dt.datetime, int]:
    """The fixed window ``now`` falls in: its start, and the seconds until it ends."""
    start = math.floor(now.timestamp() / seconds) * seconds
    retry = int(start + seconds - now.timestamp()) + 1
    return dt.datetime.fromtimestamp(start, dt.UTC), retry


def retain_until(today: dt.date, years: int) -> dt.date:
    try:
        return today.replace(year=today.year + years)
    except ValueError:  # 29 February
        return today.replace(year=today.year + years, day=28)


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
