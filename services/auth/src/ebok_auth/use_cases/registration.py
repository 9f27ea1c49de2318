"""Registration (terms II: online only, with proof and the current regulations accepted) and
activation (the initial password, shown once)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ebok_shared.clock import clock
from ebok_shared.refusals import invalid

from .. import events, passwords
from ..domain import link_gone, new_token, parse_amount, token_hash
from ..repository import accounts, audit, links, projection, regulations
from . import Deps, throttle

REGISTRATION_ACCEPTED = (
    "Dziękujemy. Jeśli podane dane są zgodne z naszą ewidencją, w ciągu 24 godzin wyślemy na "
    "podany adres e-mail link aktywacyjny."
)


@dataclass(frozen=True)
class Registration:
    client_number: str
    email: str
    invoice_number: str  # the proof: an invoice's number and gross amount
    invoice_gross: str
    accepted_regulations_version: int
    ip: str


async def register(deps: Deps, form: Registration) -> str:
    """The answer never tells whether the client number exists: the same message whatever
    happened (a refusal is audited)."""
    pool, settings = deps.pool, deps.settings
    client, invoice = form.client_number, form.invoice_number
    if not invoice.startswith(client):
        raise invalid("invoice_number", "numer faktury zaczyna się od numeru klienta")
    gross = parse_amount(form.invoice_gross)
    if gross is None:
        raise invalid("invoice_gross", "nieprawidłowa kwota")
    current = await regulations.current_version(pool, clock.now())
    if form.accepted_regulations_version != current:
        raise invalid(
            "accepted_regulations_version",
            f"należy zapoznać się i zaakceptować aktualny regulamin (wersja {current})",
        )
    await throttle.hit(
        pool, f"register-ip:{form.ip}", settings.registration_ip_limit, settings.ip_window_seconds
    )
    # Per client number AND address (issue #15 item 16): attempts from elsewhere cannot use
    # up the client's own tries; a guesser spreading over addresses meets the per-IP limit.
    await throttle.hit(
        pool,
        f"register-client:{client}:{form.ip}",
        settings.registration_client_limit,
        settings.ip_window_seconds,
    )

    async with pool.acquire() as conn, conn.transaction():
        outcome = "registered"
        status = await accounts.status_for_update(conn, client)
        if not await projection.may_register(conn, client, invoice, gross, clock.today()):
            outcome = "proof-not-matching"
        elif status is not None and status != "pending":
            outcome = "account-exists"  # a client has at most one account
        if outcome != "registered":
            await audit.record(
                conn,
                "registration.refused",
                actor="anonymous",
                subject=client,
                ip=form.ip,
                reason=outcome,
            )
            return REGISTRATION_ACCEPTED
        now = clock.now()
        if status is None:
            await accounts.insert_pending(conn, client, form.email, now)
        else:  # registering again before activation: the newest form wins
            await accounts.renew_pending(conn, client, form.email, now)
            await links.delete_activation(conn, client)
        token = new_token()
        expires = now + dt.timedelta(hours=settings.activation_ttl_hours)
        await links.insert(conn, token_hash(token), "activation", client, now, expires)
        await regulations.add_acceptance(
            conn, client, current, clock.now(), form.ip, "registration"
        )
        # Whoever holds a paper invoice can register: billing's address of record, when it
        # is another one, is told (terms II; no secret goes there).
        of_record = await projection.email_of_record(conn, client)
        if of_record and of_record.strip().lower() == form.email.strip().lower():
            of_record = None
        await events.registered(conn, client, form.email, token, expires, of_record)
        await audit.record(
            conn,
            "registration.accepted",
            actor="anonymous",
            subject=client,
            ip=form.ip,
            regulations_version=current,
        )
    return REGISTRATION_ACCEPTED


async def activate(deps: Deps, token: str, ip: str) -> dict[str, Any]:
    """Answers, once, with the generated initial password: it is never sent by e-mail."""
    pool, settings = deps.pool, deps.settings
    digest = token_hash(token)
    if await links.find_activation(pool, digest, clock.now()) is None:
        raise link_gone("aktywacyjny")
    initial = passwords.generate()
    hashed = await deps.hasher.hash(initial)  # only for a live token: no hashing on demand
    now = clock.now()
    expires = now + dt.timedelta(hours=settings.initial_password_ttl_hours)
    async with pool.acquire() as conn, conn.transaction():
        row = await links.find_activation(conn, digest, now, lock=True)
        if row is not None:
            client = row["client_number"]
            await links.spend(conn, digest, now)
            await accounts.activate(conn, client, hashed, expires, now)
            await events.activated(conn, client, row["email"])
            await audit.record(conn, "account.activated", actor="anonymous", subject=client, ip=ip)
    if row is None:  # spent by a concurrent request meanwhile
        raise link_gone("aktywacyjny")
    return {
        "login": client,
        "initial_password": initial,
        "initial_password_expires_at": expires.isoformat(),
        "message": "Konto zostało aktywowane. Zaloguj się tym hasłem i od razu ustaw własne; "
        "hasło nie zostanie wyświetlone ponownie.",
    }
