"""Logging in (customers and operators): one path for both, built against enumeration and
brute force.

An unknown login, a wrong password and a locked account get the same answer after the same
work (an argon2 verification is always made, against a dummy hash if need be). Every
``lockout_failures`` consecutive failures lock the account for a growing, self-lifting time
(as Keycloak does); each lockout is audited and, for customers, e-mailed through an event.
Failures are also counted per IP, which is throttled past a limit.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import asyncpg
from aiohttp import web
from ebok_shared.clock import clock
from ebok_shared.http.problems import Problem
from ebok_shared.service import POOL

from . import accounts, audit, events, sessions, throttle, totp
from .resources import AUTH_SETTINGS, HASHER, KEYRING
from .sessions import Grant
from .settings import AuthSettings

_RECOVERY_RE = re.compile(r"^[a-z2-9]{5}-[a-z2-9]{5}$")


def _ip_key(ip: str) -> str:
    return f"login-ip:{ip}"


def invalid_credentials() -> Problem:
    return Problem(401, "Nieprawidłowy login lub hasło.", code="invalid-credentials")


@dataclass(frozen=True)
class Attempt:
    kind: str  # customer | operator
    login: str
    password: str
    code: str | None  # TOTP or recovery code
    ip: str


# One round trip before hashing: the account, its lockout, this IP's failures and, for a
# customer, the regulations versions its token depends on (the hot path of every login).
_LOAD = {
    "customer": """
SELECT a.*, f.locked_until, f.subject IS NOT NULL AS has_failures, r.hits AS ip_failures,
       (SELECT coalesce(max(version), 0) FROM regulations_acceptances
         WHERE client_number = $1) AS accepted_version,
       (SELECT coalesce(max(version), 0) FROM regulations
         WHERE effective_from <= $4) AS current_version
FROM (SELECT 1) one
LEFT JOIN accounts a ON a.client_number = $1 AND a.status <> 'pending'
LEFT JOIN login_failures f ON f.kind = 'customer' AND f.subject = $1
LEFT JOIN rate_counters r ON r.key = $2 AND r.window_start = $3""",
    "operator": """
SELECT o.*, f.locked_until, f.subject IS NOT NULL AS has_failures, r.hits AS ip_failures
FROM (SELECT 1) one
LEFT JOIN operators o ON o.login = $1 AND o.active
LEFT JOIN login_failures f ON f.kind = 'operator' AND f.subject = $1
LEFT JOIN rate_counters r ON r.key = $2 AND r.window_start = $3""",
}


async def authenticate(request: web.Request, attempt: Attempt) -> sessions.Issued:
    """A new session for the caller, or a problem."""
    app = request.app
    pool, settings, hasher = app[POOL], app[AUTH_SETTINGS], app[HASHER]
    window, retry = throttle.window(settings.ip_window_seconds)
    args = [attempt.login, _ip_key(attempt.ip), window]
    if attempt.kind == "customer":
        args.append(clock.now())
    loaded = await pool.fetchrow(_LOAD[attempt.kind], *args)
    assert loaded is not None
    if (loaded["ip_failures"] or 0) >= settings.ip_login_failures_limit:
        raise throttle.too_many(retry)
    # A pending account (no password yet) or an inactive operator is as good as unknown.
    row = loaded if loaded["password_hash"] is not None else None
    locked = loaded["locked_until"]
    locked = locked if locked is not None and locked > clock.now() else None
    matches = await hasher.verify(row["password_hash"] if row else None, attempt.password)
    if row is None or locked is not None or not matches:
        reason = "unknown-login" if row is None else "locked" if locked else "wrong-password"
        await _failed(pool, attempt, settings, row, reason, count=row is not None and not locked)
        raise invalid_credentials()

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
        raise Problem(
            403,
            "Dostęp do konta został zablokowany. Skontaktuj się z Biurem Obsługi Klienta.",
            code="account-blocked",
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
        raise Problem(
            401,
            "Hasło tymczasowe wygasło. Ustaw nowe hasło, korzystając z opcji „Nie pamiętam hasła”.",
            code="initial-password-expired",
        )
    if row["totp_secret"] is not None and not attempt.code:
        raise Problem(401, "Podaj kod z aplikacji uwierzytelniającej (TOTP).", code="totp-required")

    if hasher.needs_rehash(row["password_hash"]):  # parameters were raised since
        await _rehash(pool, attempt, await hasher.hash(attempt.password))
    grant = _grant(attempt.kind, row)
    if row["totp_secret"] is None and not row["has_failures"]:
        return await sessions.start(pool, app[KEYRING], settings, grant, ip=attempt.ip)
    async with pool.acquire() as conn, conn.transaction():
        if row["totp_secret"] is not None and not await _second_factor_ok(conn, attempt, row):
            # Counted like a wrong password: the second factor is brute-forced otherwise.
            failure = await throttle.record_failure(conn, attempt.kind, attempt.login, settings)
            await _after_failure(conn, attempt, row, failure.locked_until, "wrong-totp-code")
            await throttle.count(conn, _ip_key(attempt.ip), settings.ip_window_seconds)
            issued = None
        else:
            await throttle.clear(conn, attempt.kind, attempt.login)
            issued = await sessions.start(conn, app[KEYRING], settings, grant, ip=attempt.ip)
    if issued is None:
        raise Problem(401, "Nieprawidłowy kod uwierzytelniający.", code="invalid-totp-code")
    return issued


async def load_live(conn: asyncpg.Connection, kind: str, subject: str) -> asyncpg.Record | None:
    """The account behind a session, if it may still use it (active, not blocked/deleted)."""
    if kind == "customer":
        return await conn.fetchrow(
            "SELECT * FROM accounts WHERE client_number = $1 AND status = 'active'", subject
        )
    return await conn.fetchrow("SELECT * FROM operators WHERE login = $1 AND active", subject)


def _grant(kind: str, row: asyncpg.Record) -> Grant:
    if kind == "customer":
        restrictions = accounts.restrictions_for(
            row, row["accepted_version"], row["current_version"]
        )
        return Grant("customer", row["client_number"], ["customer"], restrictions)
    return _operator_grant(row)


def _operator_grant(row: asyncpg.Record) -> Grant:
    return Grant(
        "operator",
        row["login"],
        list(row["roles"]),
        ["password_change"] if row["must_change_password"] else [],
    )


async def grant_for(
    conn: asyncpg.Pool | asyncpg.Connection, kind: str, row: asyncpg.Record
) -> Grant:
    if kind == "customer":
        return Grant(
            "customer", row["client_number"], ["customer"], await accounts.restrictions(conn, row)
        )
    return _operator_grant(row)


async def _second_factor_ok(
    conn: asyncpg.Connection, attempt: Attempt, row: asyncpg.Record
) -> bool:
    code = (attempt.code or "").strip().lower()
    table, key = (
        ("accounts", "client_number") if attempt.kind == "customer" else ("operators", "login")
    )
    step = totp.matching_step(row["totp_secret"], code, row["totp_last_step"])
    if step is not None:
        # Conditional update: two concurrent logins with one code cannot both win.
        used = await conn.fetchval(
            f"UPDATE {table} SET totp_last_step = $2 WHERE {key} = $1"
            " AND (totp_last_step IS NULL OR totp_last_step < $2) RETURNING true",
            attempt.login,
            step,
        )
        return bool(used)
    if attempt.kind == "customer" and _RECOVERY_RE.match(code):
        used = await conn.fetchval(
            "UPDATE recovery_codes SET used_at = $3 WHERE client_number = $1 AND code_hash = $2"
            " AND used_at IS NULL RETURNING true",
            attempt.login,
            totp.recovery_hash(code),
            clock.now(),
        )
        if used:
            await audit.record(
                conn,
                "login.recovery_code_used",
                actor=f"customer:{attempt.login}",
                subject=attempt.login,
                ip=attempt.ip,
            )
        return bool(used)
    return False


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
        # Failures per IP: past the limit, check() answers 429 to that IP whatever the login.
        await throttle.count(conn, _ip_key(attempt.ip), settings.ip_window_seconds)


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
        await events.publish(
            conn,
            events.LOCKED,
            {
                "client_number": attempt.login,
                "email": row["email"],
                "until": locked_until.isoformat(),
            },
            key=attempt.login,
        )


async def _rehash(pool: asyncpg.Pool, attempt: Attempt, new_hash: str) -> None:
    table, key = (
        ("accounts", "client_number") if attempt.kind == "customer" else ("operators", "login")
    )
    await pool.execute(
        f"UPDATE {table} SET password_hash = $2 WHERE {key} = $1", attempt.login, new_hash
    )
