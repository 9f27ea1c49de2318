"""E-invoices by e-mail (terms III.c): a household asks for them at an address, confirms
the address by the e-mailed link, and may withdraw; a business gets its invoices in KSeF."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from ebok_shared.bus import Event, Outbox
from ebok_shared.logs import get_logger
from ebok_shared.refusals import Refusal, not_found

from .. import events as ev
from ..clients import repository as clients_repo
from ..common.connection import Conn, Record
from . import repository as repo
from .domain import BUSINESS_E_INVOICE, CONFIRMATION_VALID, token_hash

log = get_logger(__name__)


@dataclass(frozen=True)
class EInvoiceState:
    """What a client's e-invoice page shows (``views.e_invoice`` reads each by name)."""

    client: Mapping[str, Any]  # kind
    consent: Mapping[str, Any] | None  # status, email
    pending: Mapping[str, Any] | None  # email, purpose, expires_at
    history: list[Mapping[str, Any]]  # at, action, email, source


async def state(conn: Conn, client_number: str, now: datetime) -> EInvoiceState:
    rows = await repo.state_rows(conn, client_number, now, 50)
    if not rows:
        raise not_found("Nie znaleziono klienta.")
    first = rows[0]
    return EInvoiceState(
        {"kind": first["kind"]},
        None
        if first["consent_status"] is None
        else {"status": first["consent_status"], "email": first["consent_email"]},
        None
        if first["pending_expires_at"] is None
        else {
            "email": first["pending_email"],
            "purpose": first["pending_purpose"],
            "expires_at": first["pending_expires_at"],
        },
        [r for r in rows if r["at"] is not None],  # a client without history: one bare row
    )


async def _household(conn: Conn, client_number: str) -> Record:
    client = await clients_repo.lock_client(conn, client_number)
    if client is None:
        raise not_found("Nie znaleziono klienta.")
    if client["kind"] == "business":
        raise Refusal(409, "e-invoice-ksef", BUSINESS_E_INVOICE)
    return client


async def request_e_invoice(
    conn: Conn, outbox: Outbox, client_number: str, email: str, source: str, now: datetime
) -> dict[str, Any]:
    async with conn.transaction():
        await _household(conn, client_number)
        current = await repo.consent(conn, client_number)
        accepted = current is not None and current["status"] == "accepted"
        if accepted and current is not None and current["email"].lower() == email.lower():
            raise Refusal(
                409,
                "e-invoice-same-address",
                "E-faktury są już wysyłane na ten adres.",
                field="email",
            )
        purpose = "change" if accepted else "accept"
        token = secrets.token_urlsafe(32)
        expires = now + CONFIRMATION_VALID
        await repo.supersede_requests(conn, client_number, now)
        await repo.add_request(conn, token_hash(token), client_number, email, purpose, now, expires)
        await repo.add_history(conn, client_number, now, "requested", purpose, email, source)
        await outbox.add_events(
            conn,
            [
                ev.event(
                    ev.CONFIRMATION_REQUESTED,
                    ev.confirmation_requested(client_number, email, token, purpose, expires),
                )
            ],
        )
    return {"purpose": purpose, "email": email, "expires_at": expires}


async def confirm_e_invoice(
    conn: Conn, outbox: Outbox, token: str, now: datetime
) -> dict[str, Any]:
    async with conn.transaction():
        request = await repo.take_request(conn, token_hash(token))
        if request is None or request["closed_at"] is not None or request["expires_at"] <= now:
            raise Refusal(
                404,
                "confirmation-invalid",
                "Link potwierdzający jest nieprawidłowy, został już użyty lub wygasł. "
                "Zgłoś adres ponownie w e-BOK.",
                field="token",
            )
        client_number = request["client_number"]
        await _household(conn, client_number)
        await repo.close_request(conn, request["token_hash"], now)
        await repo.set_consent(conn, client_number, "accepted", request["email"], now)
        await repo.add_history(
            conn,
            client_number,
            now,
            "confirmed",
            request["purpose"],
            request["email"],
            "confirmation-link",
        )
        await outbox.add_events(
            conn,
            [
                ev.event(
                    ev.CONSENT_CHANGED,
                    ev.consent_changed(
                        client_number, "accepted", request["email"], now, "confirmation-link"
                    ),
                )
            ],
        )
    return {"client_number": client_number, "status": "accepted", "email": request["email"]}


async def withdraw_e_invoice(
    conn: Conn, outbox: Outbox, client_number: str, source: str, now: datetime
) -> None:
    async with conn.transaction():
        await _household(conn, client_number)
        current = await repo.consent(conn, client_number)
        pending = await repo.pending_request(conn, client_number, now)
        if (current is None or current["status"] != "accepted") and pending is None:
            raise Refusal(409, "e-invoice-not-accepted", "Nie ma zgody na e-fakturę do wycofania.")
        await repo.supersede_requests(conn, client_number, now)
        await repo.add_history(conn, client_number, now, "withdrawn", None, None, source)
        if current is not None and current["status"] == "accepted":
            await repo.set_consent(conn, client_number, "withdrawn", None, now)
            await outbox.add_events(
                conn,
                [
                    ev.event(
                        ev.CONSENT_CHANGED,
                        ev.consent_changed(client_number, "withdrawn", None, now, source),
                    )
                ],
            )


async def account_deleted(conn: asyncpg.Connection, event: Event) -> None:
    """GDPR art. 17: the e-BOK account was erased. An e-invoice address the customer gave in
    e-BOK and never confirmed is theirs alone (no invoice went to it): erased. A confirmed one
    stays (the invoices sent to it are kept under the VAT Act; auth's /me/deletion says so)."""
    erased = await repo.erase_unconfirmed(conn, event.payload["client_number"])
    log.info("unconfirmed e-invoice addresses erased", count=erased)
