"""Logging in (customers and operators): one path for both, built against enumeration and
brute force; and service tokens for the other e-BOK services.

An unknown login, a wrong password and a locked account get the same answer after the same
work (an argon2 verification is always made, against a dummy hash if need be). With
two-factor login on, the code is asked for before the password is judged, and a wrong
password and a wrong code get that same answer too: no answer tells that the password was
right (ASVS 2.2; what stays visible is that a login has two-factor login on). Every
``lockout_failures`` consecutive failures lock the account for a growing, self-lifting time
(as Keycloak does); each lockout is audited and, for customers, e-mailed through an event.
Failures are also counted per IP, which is throttled past a limit.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from dataclasses import dataclass

import asyncpg
from ebok_shared.clock import clock
from ebok_shared.refusals import Refusal

from .. import events, totp
from ..domain import Grant, Issued, Throttled, operator_grant, rate_window, restrictions_for
from ..keys import KeyRing
from ..repository import accounts, audit, operators
from ..repository import login as repo
from ..repository import totp as totp_repo
from ..settings import AuthSettings
from ..totp_vault import owner, vault_of
from . import Deps, sessions, throttle
from .totp import note_wrong_code

_RECOVERY_RE = re.compile(r"^[a-z2-9]{5}-[a-z2-9]{5}$")


def _ip_key(ip: str) -> str:
    return f"login-ip:{ip}"


def _pair_key(attempt: Attempt) -> str:
    """Failures of one account from one address (issue #15 item 16)."""
    return f"login-pair:{attempt.kind}:{attempt.login}:{attempt.ip}"


def invalid_credentials(code_given: bool = False) -> Refusal:
    """The one answer to every failed login; its wording depends on the request only."""
    detail = (
        "Nieprawidłowy login, hasło lub kod uwierzytelniający."
        if code_given
        else "Nieprawidłowy login lub hasło."
    )
    return Refusal(401, "invalid-credentials", detail)


@dataclass(frozen=True)
class Attempt:
    kind: str  # customer | operator
    login: str
    password: str
    code: str | None  # TOTP or recovery code
    ip: str


async def log_in(deps: Deps, attempt: Attempt) -> Issued:
    """A new session for the caller, or a refusal."""
    pool, settings, hasher = deps.pool, deps.settings, deps.hasher
    window, retry = rate_window(clock.now(), settings.ip_window_seconds)
    loaded = await repo.load(
        pool, attempt.kind, attempt.login, _ip_key(attempt.ip), window, clock.now()
    )
    if (loaded["ip_failures"] or 0) >= settings.ip_login_failures_limit:
        raise Throttled(retry)
    # A pending account (no password yet) or an inactive operator is as good as unknown.
    row = loaded if loaded["password_hash"] is not None else None
    two_factor = row is not None and row["totp_secret"] is not None
    if two_factor and not attempt.code:
        # Asked before the password is judged: this answer says nothing about the password.
        raise Refusal(401, "totp-required", "Podaj kod z aplikacji uwierzytelniającej (TOTP).")
    locked = loaded["locked_until"]
    locked = locked if locked is not None and locked > clock.now() else None
    # The failures that set this lock happened at most the longest lock before it ends.
    failed_from = (
        None if locked is None else locked - dt.timedelta(seconds=settings.lockout_max_seconds)
    )
    if failed_from is not None and not await throttle.counted_since(
        pool, _pair_key(attempt), settings.ip_window_seconds, failed_from
    ):
        # A lock binds the addresses that failed on this account while it built up (in any
        # window since, not only this one: a lock outlives the window it began in): another
        # address is judged by its password, one wrong try and it is bound too. So nobody
        # locks a customer out from elsewhere; a guesser needs a new address per guess
        # (and each address is throttled across accounts).
        locked = None
    matches = await hasher.verify(row["password_hash"] if row else None, attempt.password)
    if row is None or locked is not None or not matches:
        reason = "unknown-login" if row is None else "locked" if locked else "wrong-password"
        await _failed(pool, attempt, settings, row, reason, count=row is not None and not locked)
        raise invalid_credentials(bool(attempt.code))
    if two_factor:
        async with pool.acquire() as conn, conn.transaction():
            verdict = await _second_factor(conn, attempt, row, settings)
            second_ok = verdict == "ok"
            if not second_ok:
                # Counted like a wrong password: the second factor is brute-forced otherwise.
                # (Row locks first, audit entries after: see use_cases.totp.check_code.)
                failure = await throttle.record_failure(conn, attempt.kind, attempt.login, settings)
                if verdict == "replayed":
                    await note_wrong_code(
                        conn, attempt.kind, attempt.login, attempt.ip, replay=True, during="login"
                    )
                await _after_failure(conn, attempt, row, failure.locked_until, "wrong-totp-code")
                await throttle.count(conn, _ip_key(attempt.ip), settings.ip_window_seconds)
                await throttle.count(conn, _pair_key(attempt), settings.ip_window_seconds)
        if not second_ok:
            raise invalid_credentials(code_given=True)

    actor = f"{attempt.kind}:{attempt.login}"
    if attempt.kind == "customer" and row["status"] == "blocked":
        await audit.record(
            pool,
            "login.refused",
            actor=actor,
            subject=attempt.login,
            ip=attempt.ip,
            reason="blocked",
        )
        raise Refusal(
            403,
            "account-blocked",
            "Dostęp do konta został zablokowany. Skontaktuj się z Biurem Obsługi Klienta.",
        )
    expires = row["password_expires_at"] if attempt.kind == "customer" else None
    if expires is not None and expires <= clock.now():
        await audit.record(
            pool,
            "login.refused",
            actor=actor,
            subject=attempt.login,
            ip=attempt.ip,
            reason="initial-password-expired",
        )
        raise Refusal(
            401,
            "initial-password-expired",
            "Hasło tymczasowe wygasło. Ustaw nowe hasło, korzystając z opcji „Nie pamiętam hasła”.",
        )
    if hasher.needs_rehash(row["password_hash"]):  # parameters were raised since
        new_hash = await hasher.hash(attempt.password)
        if attempt.kind == "customer":
            await accounts.set_password_hash(pool, attempt.login, new_hash)
        else:
            await operators.set_password_hash(pool, attempt.login, new_hash)
    grant = _grant(attempt.kind, row)
    if not two_factor and not row["has_failures"]:
        return await sessions.start(pool, deps.keyring, settings, grant, ip=attempt.ip)
    async with pool.acquire() as conn, conn.transaction():
        await throttle.clear(conn, attempt.kind, attempt.login)
        return await sessions.start(conn, deps.keyring, settings, grant, ip=attempt.ip)


def _grant(kind: str, row: asyncpg.Record) -> Grant:
    if kind == "customer":
        restrictions = restrictions_for(
            row["must_change_password"], row["accepted_version"], row["current_version"]
        )
        return Grant("customer", row["client_number"], ["customer"], restrictions)
    return operator_grant(row["login"], list(row["roles"]), row["must_change_password"])


async def _second_factor(
    conn: asyncpg.Connection, attempt: Attempt, row: asyncpg.Record, settings: AuthSettings
) -> str:
    """ "ok" (the code's step or the recovery code is spent now), "replayed" (a TOTP code
    used before) or "wrong"."""
    code = (attempt.code or "").strip().lower()
    secret = vault_of(settings).open(
        row["totp_key_id"], row["totp_secret"], owner(attempt.kind, attempt.login)
    )
    step = totp.matching_step(secret, code, row["totp_last_step"])
    if step is not None and await totp_repo.use_step(conn, attempt.kind, attempt.login, step):
        return "ok"
    if step is not None or totp.replayed(secret, code, row["totp_last_step"]):
        return "replayed"
    if attempt.kind == "customer" and _RECOVERY_RE.match(code):
        used = await totp_repo.use_recovery_code(
            conn, attempt.login, totp.recovery_hash(code), clock.now()
        )
        if used:
            await audit.record(
                conn,
                "login.recovery_code_used",
                actor=f"customer:{attempt.login}",
                subject=attempt.login,
                ip=attempt.ip,
            )
        return "ok" if used else "wrong"
    return "wrong"


async def _failed(
    pool: asyncpg.Pool,
    attempt: Attempt,
    settings: AuthSettings,
    row: asyncpg.Record | None,
    reason: str,
    *,
    count: bool,
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        locked_until = None
        if count:
            failure = await throttle.record_failure(conn, attempt.kind, attempt.login, settings)
            locked_until = failure.locked_until
        await _after_failure(conn, attempt, row, locked_until, reason)
        # Failures per IP: past the limit, the next login from that IP is answered 429.
        await throttle.count(conn, _ip_key(attempt.ip), settings.ip_window_seconds)
        if row is not None:
            await throttle.count(conn, _pair_key(attempt), settings.ip_window_seconds)


async def _after_failure(
    conn: asyncpg.Connection,
    attempt: Attempt,
    row: asyncpg.Record | None,
    locked_until: dt.datetime | None,
    reason: str,
) -> None:
    await audit.record(
        conn,
        "login.failed",
        actor="anonymous",
        subject=attempt.login if row is not None else None,
        ip=attempt.ip,
        kind=attempt.kind,
        reason=reason,
        **({} if row is not None else {"attempted_login": attempt.login}),
    )
    if locked_until is None or row is None:
        return
    await audit.record(
        conn,
        "account.locked",
        actor="system",
        subject=attempt.login,
        ip=attempt.ip,
        kind=attempt.kind,
        until=locked_until.isoformat(),
    )
    if attempt.kind == "customer":
        await events.locked(conn, attempt.login, row["email"], locked_until)


def issue_service_token(
    keyring: KeyRing, settings: AuthSettings, client_id: str, client_secret: str
) -> tuple[str, int]:
    """A token of kind "service" for another e-BOK service (client credentials)."""
    expected = settings.service_client_secrets().get(client_id)
    if expected is None or not hmac.compare_digest(expected.encode(), client_secret.encode()):
        raise Refusal(401, "invalid-client", "Nieprawidłowe dane uwierzytelniające usługi.")
    return keyring.sign({"sub": client_id, "kind": "service"})
