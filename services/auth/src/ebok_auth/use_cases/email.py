"""Changing the customer's e-mail address: the new address proves it is theirs by following
the link sent to it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg
from ebok_shared.clock import clock

from .. import events
from ..domain import link_gone, new_token, token_hash
from ..repository import accounts, audit, links
from . import Deps, throttle
from .accounts import own_account, verify_current_password
from .totp import check_code


@dataclass(frozen=True)
class ChangeRequest:
    new_email: str
    current_password: str  # re-authentication (ASVS 3.7.1): a stolen access token is not enough
    totp_code: str | None  # required when two-factor login is on
    ip: str


async def request_change(deps: Deps, client: str, request: ChangeRequest) -> dt.datetime:
    """The link's expiry."""
    pool, settings = deps.pool, deps.settings
    new_email, ip = request.new_email, request.ip
    await throttle.hit(pool, f"email-change:{client}", 5, 3600)
    row = await own_account(pool, client)
    await verify_current_password(
        deps, "customer", client, row["password_hash"], request.current_password, ip
    )
    await check_code(deps, row, request.totp_code, ip, field="totp_code")
    async with pool.acquire() as conn, conn.transaction():
        now = clock.now()
        token = new_token()
        expires = now + dt.timedelta(hours=settings.email_change_ttl_hours)
        await links.insert(
            conn, token_hash(token), "email_change", client, now, expires, new_email=new_email
        )
        await events.email_change_requested(conn, client, new_email, token, expires)
        await audit.record(
            conn, "email_change.requested", actor=f"customer:{client}", subject=client, ip=ip
        )
    return expires


async def confirm_change(pool: asyncpg.Pool, token: str, ip: str) -> str:
    """The new address."""
    digest = token_hash(token)
    async with pool.acquire() as conn, conn.transaction():
        now = clock.now()
        row = await links.find_email_change_for_update(conn, digest, now)
        if row is None:
            raise link_gone("potwierdzający adres e-mail")
        client, new_email = row["client_number"], row["new_email"]
        await links.spend_all(conn, client, "email_change", now)
        await accounts.set_email(conn, client, new_email)
        await events.email_changed(conn, client, new_email, row["email"])
        await audit.record(conn, "email.changed", actor=f"customer:{client}", subject=client, ip=ip)
    return new_email
