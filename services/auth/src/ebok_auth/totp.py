"""Two-factor login: TOTP (RFC 6238, 30 s, 6 digits) and single-use recovery codes."""

from __future__ import annotations

import secrets

import pyotp
from ebok_shared.clock import clock

from .domain import token_hash

RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def matching_step(secret: str, code: str, last_step: int | None) -> int | None:
    """The time step ``code`` is valid for (±1 step of clock drift), if it was not used yet;
    the caller stores it so the same code cannot be replayed."""
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = int(clock.now().timestamp())
    step_now = now // totp.interval
    for step in (step_now, step_now - 1, step_now + 1):
        if last_step is not None and step <= last_step:
            continue
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def replayed(secret: str, code: str, last_step: int | None) -> bool:
    """Is ``code`` one already used (valid for a step at or before the last one used)? Such a
    code is refused by ``matching_step``; this tells a replay from a mistyped code."""
    if last_step is None or not (code.isdigit() and len(code) == 6):
        return False
    totp = pyotp.TOTP(secret)
    step_now = int(clock.now().timestamp()) // totp.interval
    return any(
        step <= last_step and secrets.compare_digest(totp.generate_otp(step), code)
        for step in (step_now, step_now - 1, step_now + 1)
    )


def now_code(secret: str) -> str:
    """The current code (for the CLI's and tests' use)."""
    return pyotp.TOTP(secret).at(clock.now())


def new_recovery_codes() -> list[str]:
    return [
        "-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(5)) for _ in range(2))
        for _ in range(RECOVERY_CODES)
    ]


def recovery_hash(code: str) -> bytes:
    return token_hash(code.strip().lower())
