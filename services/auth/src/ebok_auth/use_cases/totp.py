"""Two-factor login for customers: start (a new key), confirm with a first code (recovery
codes are issued), remove (password and a code)."""

from __future__ import annotations

from typing import Any

from ebok_shared.clock import clock
from ebok_shared.refusals import Refusal, conflict

from .. import events, totp
from ..repository import audit
from ..repository import totp as repo
from . import Deps
from .accounts import own_account, verify_current_password


async def start(deps: Deps, client: str) -> dict[str, Any]:
    row = await own_account(deps.pool, client)
    if row["totp_secret"] is not None:
        raise conflict("totp-enabled", "Logowanie dwuskładnikowe jest już włączone.")
    secret = totp.new_secret()
    await repo.set_pending(deps.pool, client, secret)
    return {
        "secret": secret,
        "otpauth_uri": totp.provisioning_uri(secret, client, deps.settings.totp_issuer),
    }


async def confirm(deps: Deps, client: str, code: str, ip: str) -> list[str]:
    """The recovery codes, shown once."""
    row = await own_account(deps.pool, client)
    secret = row["totp_pending_secret"]
    step = totp.matching_step(secret, code, None) if secret else None
    if step is None:
        raise Refusal(
            422,
            "validation",
            "Nieprawidłowy kod. Sprawdź czas w telefonie i spróbuj ponownie.",
            field="code",
            reason="nieprawidłowy kod",
        )
    codes = totp.new_recovery_codes()
    async with deps.pool.acquire() as conn, conn.transaction():
        await repo.enable(conn, client, secret, step)
        await repo.replace_recovery_codes(conn, client, [totp.recovery_hash(c) for c in codes])
        await audit.record(conn, "totp.enabled", actor=f"customer:{client}", subject=client, ip=ip)
        await events.totp_changed(conn, client, row["email"], True, clock.now())
    return codes


async def remove(deps: Deps, client: str, current_password: str, code: str, ip: str) -> None:
    row = await own_account(deps.pool, client)
    await verify_current_password(
        deps, "customer", client, row["password_hash"], current_password, ip
    )
    if (
        row["totp_secret"] is None
        or totp.matching_step(row["totp_secret"], code, row["totp_last_step"]) is None
    ):
        raise Refusal(
            422, "validation", "Nieprawidłowy kod.", field="code", reason="nieprawidłowy kod"
        )
    async with deps.pool.acquire() as conn, conn.transaction():
        await repo.disable(conn, client)
        await repo.delete_recovery_codes(conn, client)
        await audit.record(conn, "totp.disabled", actor=f"customer:{client}", subject=client, ip=ip)
        await events.totp_changed(conn, client, row["email"], False, clock.now())
