"""Changing the customer's e-mail address: the new address proves it is theirs by following
the link sent to it."""

from __future__ import annotations

import datetime as dt

import asyncpg
from ebok_shared.clock import clock

from .. import events
from ..domain import link_gone, new_token, token_hash
from ..repository import accounts, audit, links
from . import Deps, throttle


async def request_change(deps: Deps, client: str, new_email: str, ip: str) -> dt.datetime:
    """The link's expiry."""
    pool, settings = deps.pool, deps.settings
    await throttle.hit(pool, f"email-change:{client}", 5, 3600)
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
