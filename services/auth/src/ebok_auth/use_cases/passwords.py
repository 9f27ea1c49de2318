"""Passwords: the signed-in change (customers and operators), and the reset by e-mail link."""

from __future__ import annotations

import datetime as dt

import asyncpg
from ebok_shared.clock import clock
from ebok_shared.refusals import Refusal

from .. import events
from ..domain import Issued, link_gone, new_token, session_ended, token_hash
from ..passwords import policy_violations
from ..repository import accounts, audit, links, operators
from . import Deps, sessions, throttle
from .accounts import verify_current_password

RESET_ACCEPTED = (
    "Jeśli konto o podanym loginie istnieje, wyślemy na jego adres e-mail link do ustawienia "
    "nowego hasła."
)


def check_policy(password: str, login: str, field: str = "new_password") -> None:
    broken = policy_violations(password, login)
    if broken:
        raise Refusal(
            422,
            "password-policy",
            "Hasło nie spełnia wymagań: " + "; ".join(broken) + ".",
            errors=[{"field": field, "reason": reason} for reason in broken],
        )


async def change_password(
    deps: Deps,
    kind: str,
    subject: str,
    current_password: str,
    new_password: str,
    ip: str,
) -> Issued:
    """The one call a first-login session may make. Every session of this account ends,
    this one too: the caller continues in a new session (a new id, ASVS 3.2.1), so nothing
    issued before the change — above all to the generated first password — stays valid."""
    pool = deps.pool
    check_policy(new_password, subject)
    async with pool.acquire() as conn:
        row = await sessions.load_live(conn, kind, subject)
    if row is None:
        raise session_ended("Sesja wygasła lub została zakończona.")
    await verify_current_password(deps, kind, subject, row["password_hash"], current_password, ip)
    if new_password == current_password:
        # Above all at the first login: the generated password must really be replaced.
        raise Refusal(
            422,
            "password-unchanged",
            "Nowe hasło musi się różnić od obecnego.",
            field="new_password",
            reason="nowe hasło musi się różnić od obecnego",
        )
    hashed = await deps.hasher.hash(new_password)
    async with pool.acquire() as conn, conn.transaction():
        if kind == "customer":
            await accounts.set_password(conn, subject, hashed, clock.now())
            await events.password_changed(conn, subject, row["email"], "changed", clock.now())
        else:
            await operators.set_password(conn, subject, hashed)
            await events.operator_password_changed(conn, subject, row["email"], clock.now())
        revoked = await sessions.revoke_all(conn, kind, subject, reason="password-changed")
        await throttle.clear(conn, kind, subject)
        await audit.record(
            conn,
            "password.changed",
            actor=f"{kind}:{subject}",
            subject=subject,
            ip=ip,
            sessions_revoked=revoked,
        )
        row = await sessions.load_live(conn, kind, subject)
        assert row is not None
        grant = await sessions.grant_for(conn, kind, row)
        return await sessions.start(conn, deps.keyring, deps.settings, grant, ip=ip)


async def request_reset(deps: Deps, client: str, ip: str) -> str:
    """The answer never tells whether the account exists."""
    pool, settings = deps.pool, deps.settings
    await throttle.hit(pool, f"reset-ip:{ip}", settings.reset_ip_limit, settings.ip_window_seconds)
    # Per login AND address (issue #15 item 16): nobody can use up the customer's own tries.
    await throttle.hit(
        pool, f"reset-login:{client}:{ip}", settings.reset_login_limit, settings.ip_window_seconds
    )
    # Per login from everywhere: past the cap, the same answer but no further e-mail (no
    # flooding the customer's mailbox); the links already sent stay valid, so the customer
    # is never denied a reset.
    sent = await throttle.count(pool, f"reset-mail:{client}", settings.ip_window_seconds)
    async with pool.acquire() as conn, conn.transaction():
        email = await accounts.active_email(conn, client)
        if email is not None and sent > settings.reset_mail_limit:
            await audit.record(
                conn,
                "password_reset.not_sent",
                actor="anonymous",
                subject=client,
                ip=ip,
                reason="mail-limit",
            )
            return RESET_ACCEPTED
        if email is not None:
            now = clock.now()
            token = new_token()
            expires = now + dt.timedelta(minutes=settings.password_reset_ttl_minutes)
            await links.insert(conn, token_hash(token), "password_reset", client, now, expires)
            await events.password_reset_requested(conn, client, email, token, expires)
        await audit.record(
            conn,
            "password_reset.requested",
            actor="anonymous",
            subject=client if email else None,
            ip=ip,
            **({} if email else {"attempted_login": client}),
        )
    return RESET_ACCEPTED


async def confirm_reset(deps: Deps, token: str, new_password: str, ip: str) -> None:
    pool = deps.pool
    digest = token_hash(token)
    client = await links.find_reset(pool, digest, clock.now())
    if client is None:
        raise link_gone("do ustawienia hasła")
    check_policy(new_password, client)
    hashed = await deps.hasher.hash(new_password)
    async with pool.acquire() as conn, conn.transaction():
        await _reset(conn, digest, client, hashed, ip)


async def _reset(
    conn: asyncpg.Connection, digest: bytes, client: str, hashed: str, ip: str
) -> None:
    now = clock.now()
    if await links.find_reset(conn, digest, now, lock=True) is None:
        raise link_gone("do ustawienia hasła")
    await links.spend_all(conn, client, "password_reset", now)
    await accounts.set_password(conn, client, hashed, now)
    account = await accounts.get(conn, client)
    if account is not None:
        await events.password_changed(conn, client, account["email"], "reset", now)
    await sessions.revoke_all(conn, "customer", client, reason="password-reset")
    await throttle.clear(conn, "customer", client)
    await audit.record(conn, "password.reset", actor=f"customer:{client}", subject=client, ip=ip)
