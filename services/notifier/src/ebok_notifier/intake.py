"""Event handlers: each runs inside the shared consumer's inbox transaction (``conn``) and
writes the e-mails the event calls for to the delivery log, or updates the projection of
users, or starts a campaign. Nothing here talks to SMTP: the sender delivers after commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from ebok_shared.bus import Event
from ebok_shared.clock import clock
from ebok_shared.logs import get_logger

from . import repository as repo
from .domain import Kind, message_id

log = get_logger(__name__)


class Intake:
    def __init__(self, *, message_id_domain: str, campaign_rate: float) -> None:
        self.domain = message_id_domain
        self.campaign_rate = campaign_rate

    def _delivery(
        self, event: Event, kind: Kind, recipient: str, context: dict[str, Any]
    ) -> repo.NewDelivery:
        return repo.NewDelivery(
            event_id=event.id,
            recipient=recipient,
            kind=kind,
            context=context,
            message_id=message_id(event.id, recipient, self.domain),
            client_number=context.get("client_number"),
        )

    async def _mail(
        self,
        conn: asyncpg.Connection,
        event: Event,
        kind: Kind,
        recipient: str,
        context: dict[str, Any],
    ) -> None:
        await repo.enqueue(conn, [self._delivery(event, kind, recipient, context)], clock.now())

    async def _mail_from_payload(
        self, conn: asyncpg.Connection, event: Event, kind: Kind, address_field: str
    ) -> None:
        await self._mail(conn, event, kind, event.payload[address_field], event.payload)

    def mails_from_payload(
        self, kind: Kind, address_field: str
    ) -> Callable[[asyncpg.Connection, list[Event]], Awaitable[None]]:
        """A batched handler (``Subscription(..., batched=True)``): the e-mail of ``kind`` to
        the address in each event's ``address_field``, the consumer's run of such events
        written to the delivery log in one statement."""

        async def handler(conn: asyncpg.Connection, events: list[Event]) -> None:
            await repo.enqueue(
                conn,
                [self._delivery(e, kind, e.payload[address_field], e.payload) for e in events],
                clock.now(),
            )

        return handler

    async def _mail_to_user(
        self, conn: asyncpg.Connection, event: Event, kind: Kind, address_field: str = "email"
    ) -> None:
        """To the address in the event if it has one, else to the address the projection has
        for the user; nobody if the client has no e-BOK account (or it was deleted)."""
        client_number = event.payload["client_number"]
        address = event.payload.get(address_field)
        if not address and client_number is not None:
            address = await repo.recipient_email(conn, client_number)
        if not address:
            log.info("no known address; e-mail not sent", client_number=client_number, kind=kind)
            return
        await self._mail(conn, event, kind, address, event.payload)

    # -- billing --------------------------------------------------------------------------------

    async def invoice_issued(self, conn: asyncpg.Connection, event: Event) -> None:
        """An e-invoice, with its PDF, to a client who accepted e-invoices."""
        p = event.payload
        if p["delivery"] == "e-mail" and p["e_invoice_email"]:
            await self._mail_from_payload(conn, event, Kind.E_INVOICE, "e_invoice_email")

    async def interest_note_issued(self, conn: asyncpg.Connection, event: Event) -> None:
        """The note with its working, to the client's e-BOK address."""
        await self._mail_to_user(conn, event, Kind.INTEREST_NOTE)

    async def e_invoice_confirmation_requested(
        self, conn: asyncpg.Connection, event: Event
    ) -> None:
        await self._mail_from_payload(conn, event, Kind.E_INVOICE_CONFIRM, "email")

    async def e_invoice_consent_changed(self, conn: asyncpg.Connection, event: Event) -> None:
        """Accepted: to the address e-invoices now go to. Withdrawn: to the user's address."""
        await self._mail_to_user(conn, event, Kind.E_INVOICE_CONSENT)

    async def payment_order_changed(self, conn: asyncpg.Connection, event: Event) -> None:
        """A receipt when an online payment is paid (the other states need no e-mail)."""
        if event.payload["status"] == "paid":
            await self._mail_to_user(conn, event, Kind.PAYMENT_RECEIPT)

    # -- auth: e-mails whose event names the address -------------------------------------------

    async def account_registered(self, conn: asyncpg.Connection, event: Event) -> None:
        """The activation link to the address in the form; and, when billing's address of
        record is another one, a notice to it (no link, no secret): whoever holds a paper
        invoice can register, so the client of record learns of it."""
        await self._mail_from_payload(conn, event, Kind.ACTIVATION, "email")
        of_record = event.payload.get("email_of_record")
        if of_record:
            notice = {
                "client_number": event.payload["client_number"],
                "registered_at": event.occurred_at.isoformat(),
            }
            await self._mail(conn, event, Kind.REGISTRATION_NOTICE, of_record, notice)

    # auth's e-mails to the address its event names (password reset, e-mail change, lockout,
    # block scheduled, password and TOTP changes): mails_from_payload, see events.py.

    # -- auth: the projection of users ---------------------------------------------------------

    async def account_activated(self, conn: asyncpg.Connection, event: Event) -> None:
        await self._project(event, conn, "active")

    async def email_changed(self, conn: asyncpg.Connection, event: Event) -> None:
        """The projection follows; the previous address is told (a hijack gets noticed)."""
        p = event.payload
        await self._mail_from_payload(conn, event, Kind.EMAIL_CHANGED, "previous_email")
        await repo.change_recipient_email(conn, p["client_number"], p["email"], event.occurred_at)

    async def account_blocked(self, conn: asyncpg.Connection, event: Event) -> None:
        await self._mail_from_payload(conn, event, Kind.ACCOUNT_BLOCKED, "email")
        await self._project(event, conn, "blocked")

    async def account_unblocked(self, conn: asyncpg.Connection, event: Event) -> None:
        await self._project(event, conn, "active")

    async def _project(self, event: Event, conn: asyncpg.Connection, status: str) -> None:
        p = event.payload
        await repo.upsert_recipient(conn, p["client_number"], p["email"], status, event.occurred_at)

    async def account_deleted(self, conn: asyncpg.Connection, event: Event) -> None:
        """The confirmation goes to the address we still have; then the address is erased (from
        the projection and from the delivery log, the confirmation's own row once it is sent)
        and nothing else still waiting for that account goes out."""
        client_number = event.payload["client_number"]
        await self._mail_to_user(conn, event, Kind.ACCOUNT_DELETED)
        await repo.cancel_pending(conn, client_number, event.id, clock.now())
        await repo.erase_addressees(conn, client_number, event.id, clock.now())
        await repo.erase_recipient(conn, client_number, event.occurred_at)

    # -- readings and correspondence: to the address the projection has ------------------------

    async def case_submitted(self, conn: asyncpg.Connection, event: Event) -> None:
        await self._mail_to_user(conn, event, Kind.CASE_RECEIVED)

    async def case_answered(self, conn: asyncpg.Connection, event: Event) -> None:
        await self._mail_to_user(conn, event, Kind.CASE_ANSWERED)

    async def evidence_requested(self, conn: asyncpg.Connection, event: Event) -> None:
        await self._mail_to_user(conn, event, Kind.EVIDENCE_REQUESTED)

    async def garden_request_submitted(self, conn: asyncpg.Connection, event: Event) -> None:
        await self._mail_to_user(conn, event, Kind.GARDEN_REQUEST_RECEIVED)

    async def reading_rejected(self, conn: asyncpg.Connection, event: Event) -> None:
        await self._mail_to_user(conn, event, Kind.READING_REJECTED)

    async def garden_request_decided(self, conn: asyncpg.Connection, event: Event) -> None:
        await self._mail_to_user(conn, event, Kind.GARDEN_REQUEST_DECIDED)

    async def garden_reading_due(self, conn: asyncpg.Connection, event: Event) -> None:
        await self._mail_to_user(conn, event, Kind.GARDEN_READING_DUE)

    async def garden_legalisation_expiring(self, conn: asyncpg.Connection, event: Event) -> None:
        await self._mail_to_user(conn, event, Kind.GARDEN_LEGALISATION_EXPIRING)

    async def leak_suspected(self, conn: asyncpg.Connection, event: Event) -> None:
        await self._mail_to_user(conn, event, Kind.LEAK_SUSPECTED)

    # -- campaigns --------------------------------------------------------------------------

    async def regulations_published(self, conn: asyncpg.Connection, event: Event) -> None:
        """Terms IV.2: every active user is told of the change, as a throttled campaign."""
        campaign_id = await repo.create_campaign(
            conn,
            event_id=event.id,
            kind=Kind.REGULATIONS,
            context=event.payload,
            rate=self.campaign_rate,
            now=clock.now(),
        )
        log.info("campaign created", campaign_id=campaign_id, kind=Kind.REGULATIONS)
