"""Two-factor login for customers: start (a new key), confirm with a first code (recovery
codes are issued), remove (password and a code)."""

from __future__ import annotations

from typing import Any

import asyncpg
from ebok_shared.clock import clock
from ebok_shared.refusals import Refusal, conflict

from .. import events, totp
from ..repository import audit
from ..repository import totp as repo
from ..totp_vault import TotpVault, owner, vault_of
from . import Deps, throttle
from .accounts import own_account, verify_current_password


async def start(deps: Deps, client: str) -> dict[str, Any]:
    row = await own_account(deps.pool, client)
    if row["totp_secret"] is not None:
        raise conflict("totp-enabled", "Logowanie dwuskładnikowe jest już włączone.")
    secret = totp.new_secret()
    await repo.set_pending(
        deps.pool, client, vault_of(deps.settings).seal(secret, owner("customer", client))
    )
    return {
        "secret": secret,
        "otpauth_uri": totp.provisioning_uri(secret, client, deps.settings.totp_issuer),
    }


async def confirm(deps: Deps, client: str, code: str, ip: str) -> list[str]:
    """The recovery codes, shown once."""
    row = await own_account(deps.pool, client)
    secret = opened(deps, row, "totp_pending_secret", "totp_pending_key_id")
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
        await repo.enable(conn, client, step)
        await repo.replace_recovery_codes(conn, client, [totp.recovery_hash(c) for c in codes])
        await audit.record(conn, "totp.enabled", actor=f"customer:{client}", subject=client, ip=ip)
        await events.totp_changed(conn, client, row["email"], True, clock.now())
    return codes


async def remove(deps: Deps, client: str, current_password: str, code: str, ip: str) -> None:
    row = await own_account(deps.pool, client)
    await verify_current_password(
        deps, "customer", client, row["password_hash"], current_password, ip
    )
    if row["totp_secret"] is None:
        raise Refusal(
            422, "validation", "Nieprawidłowy kod.", field="code", reason="nieprawidłowy kod"
        )
    await check_code(deps, row, code, ip, field="code")
    async with deps.pool.acquire() as conn, conn.transaction():
        await repo.disable(conn, client)
        await repo.delete_recovery_codes(conn, client)
        await audit.record(conn, "totp.disabled", actor=f"customer:{client}", subject=client, ip=ip)
        await events.totp_changed(conn, client, row["email"], False, clock.now())


def opened(deps: Deps, row: asyncpg.Record, column: str, key_column: str) -> str | None:
    """A customer's TOTP key from its stored (sealed) form; None if there is none."""
    stored = row[column]
    if stored is None:
        return None
    vault = vault_of(deps.settings)
    return vault.open(row[key_column], stored, owner("customer", row["client_number"]))


async def seal_stored(pool: asyncpg.Pool, vault: TotpVault) -> int:
    """Seal every TOTP key stored in clear or under another key than the vault's current one
    (the migration to encryption at rest, and each rotation); returns how many."""
    count = 0
    async with pool.acquire() as conn, conn.transaction():
        await repo.lock_sealing(conn)
        for column in repo.COLUMNS:
            kind = column[0]
            for row in await repo.stale(conn, column, vault.current):
                subject = row["subject"]
                secret = vault.open(row["key_id"], row["stored"], owner(kind, subject))
                sealed = vault.seal(secret, owner(kind, subject))
                await repo.reseal(conn, column, subject, sealed, row["stored"])
                count += 1
    return count


async def check_code(
    deps: Deps, row: asyncpg.Record, code: str | None, ip: str, *, field: str
) -> None:
    """Re-authentication's second half (ASVS 3.7.1): with two-factor login on, ``code`` must be
    a TOTP code not used before (its step is spent here). A wrong code counts toward the
    lockout as a wrong password does; a replayed one is refused and audited."""
    client = row["client_number"]
    secret = opened(deps, row, "totp_secret", "totp_key_id")
    if secret is None:
        return
    if not code:
        raise Refusal(
            422,
            "validation",
            "Podaj kod z aplikacji uwierzytelniającej.",
            field=field,
            reason="kod jest wymagany",
        )
    step = totp.matching_step(secret, code, row["totp_last_step"])
    async with deps.pool.acquire() as conn, conn.transaction():
        if step is not None and await repo.use_step(conn, "customer", client, step):
            return
        replay = step is not None or totp.replayed(secret, code, row["totp_last_step"])
        # Row locks before the audit entry (whose trigger serialises writers until commit):
        # one order everywhere, so two such transactions never wait on each other in a cycle.
        await throttle.record_failure(conn, "customer", client, deps.settings)
        await note_wrong_code(
            conn, "customer", client, ip, replay=replay, during="reauthentication"
        )
    raise Refusal(422, "validation", "Nieprawidłowy kod.", field=field, reason="nieprawidłowy kod")


async def note_wrong_code(
    conn: asyncpg.Connection, kind: str, subject: str, ip: str, *, replay: bool, during: str
) -> None:
    """Audited: a code used before (a replay: someone may have watched it being typed) is
    told apart from a wrong one."""
    await audit.record(
        conn,
        "totp.replay_refused" if replay else "totp.wrong",
        actor=f"{kind}:{subject}",
        subject=subject,
        ip=ip,
        during=during,
    )
