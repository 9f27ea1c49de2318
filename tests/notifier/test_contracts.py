"""Contract tests: every event the notifier consumes, against the catalogue.

For each subscription: the catalogue has the schema; its examples are valid; each example,
and the same example cut down to its required fields, goes through the real handler in a
real database (inside a transaction rolled back afterwards), and every e-mail it writes to
the delivery log renders with its templates. A field the notifier reads that the producer
does not promise, or a renamed one, fails here, not in production."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from ebok_notifier.app import SPEC, intake_for
from ebok_notifier.compose import prepare, recipient_address
from ebok_notifier.domain import Kind
from ebok_notifier.events import subscriptions
from ebok_shared import db
from ebok_shared.bus import Event, Subscription, default_catalogue
from ebok_shared.service import migration_folders

from tests.notifier.harness import BASE_URL, settings_for
from tests.notifier.test_render import RENDERER, SENDER
from tests.support import infra
from tests.support.smtp import SmtpServer

SETTINGS = settings_for("postgresql://unused/x", "amqp://unused/", "", SmtpServer(port=2525))
SUBSCRIPTIONS = subscriptions(intake_for(SETTINGS))
CATALOGUE = default_catalogue()
KNOWN_ADDRESS = "znany@example.pl"  # what the projection has for every client in these tests

# The e-mails each event's examples are expected to produce (a paper invoice: none; a
# projection-only event: none).
PRODUCES: dict[str, set[Kind]] = {
    "auth.account.registered": {Kind.ACTIVATION},
    "auth.account.activated": set(),
    "auth.account.locked": {Kind.LOCKOUT},
    "auth.account.block_scheduled": {Kind.BLOCK_SCHEDULED},
    "auth.account.blocked": {Kind.ACCOUNT_BLOCKED},
    "auth.account.unblocked": set(),
    "auth.account.deleted": {Kind.ACCOUNT_DELETED},
    "auth.password_reset.requested": {Kind.PASSWORD_RESET},
    "auth.email_change.requested": {Kind.EMAIL_CHANGE},
    "auth.email.changed": {Kind.EMAIL_CHANGED},
    "auth.password.changed": {Kind.PASSWORD_CHANGED},
    "auth.operator.password_changed": {Kind.OPERATOR_PASSWORD_CHANGED},
    "auth.totp.changed": {Kind.TOTP_CHANGED},
    "auth.regulations.published": {Kind.REGULATIONS},
    "billing.invoice.issued": set(),  # the example is a paper invoice
    "billing.e_invoice.confirmation_requested": {Kind.E_INVOICE_CONFIRM},
    "billing.e_invoice.consent_changed": {Kind.E_INVOICE_CONSENT},
    "correspondence.case.submitted": {Kind.CASE_RECEIVED},
    "correspondence.case.answered": {Kind.CASE_ANSWERED},
    "readings.reading.rejected": {Kind.READING_REJECTED},
    "readings.garden_request.decided": {Kind.GARDEN_REQUEST_DECIDED},
    "readings.garden_meter.reading_due": {Kind.GARDEN_READING_DUE},
    "readings.garden_meter.legalisation_expiring": {Kind.GARDEN_LEGALISATION_EXPIRING},
    "readings.leak.suspected": {Kind.LEAK_SUSPECTED},
    "billing.interest_note.issued": {Kind.INTEREST_NOTE},
    "correspondence.case.evidence_requested": {Kind.EVIDENCE_REQUESTED},
    "readings.garden_request.submitted": {Kind.GARDEN_REQUEST_RECEIVED},
    "billing.payment_order.status_changed": {Kind.PAYMENT_RECEIPT},  # the example is paid
}


@pytest.fixture(scope="module")
async def pool(services: infra.Services) -> AsyncIterator[asyncpg.Pool]:
    async with infra.fresh_database(services.pg_admin_dsn) as dsn:
        pool = await db.create_pool(dsn, min_size=1, max_size=2)
        async with pool.acquire() as conn:
            await db.migrate(conn, migration_folders(SPEC))
        try:
            yield pool
        finally:
            await pool.close()


def _schema(sub: Subscription) -> dict[str, Any]:
    return CATALOGUE.schemas[(sub.event_type, sub.version)]


def _payloads(sub: Subscription) -> list[dict[str, Any]]:
    """Each example, and each example with only the fields the schema requires."""
    schema = _schema(sub)
    examples = schema.get("examples", [])
    required = set(schema["required"])
    return [*examples, *({k: v for k, v in e.items() if k in required} for e in examples)]


async def _apply(pool: asyncpg.Pool, sub: Subscription, payload: dict[str, Any]) -> list[Any]:
    """The handler's effect on the delivery log and campaigns; rolled back afterwards."""
    event = Event.new(sub.event_type, payload, version=sub.version)
    CATALOGUE.validate(event)
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            client = payload.get("client_number") or "100001"
            await conn.execute(
                "INSERT INTO recipients (client_number, email, status, activated_at,"
                " last_event_at) VALUES ($1, $2, 'active', now() - interval '1 day',"
                " now() - interval '1 day') ON CONFLICT DO NOTHING",
                client,
                KNOWN_ADDRESS,
            )
            # As the consumer calls it: a batched handler takes its run of events as a list.
            await sub.handler(conn, [event] if sub.batched else event)  # type: ignore[arg-type]
            mails = [
                (r["kind"], r["recipient"], r["context"])
                for r in await conn.fetch("SELECT * FROM deliveries WHERE event_id = $1", event.id)
            ]
            mails += [
                (r["kind"], None, r["context"])
                for r in await conn.fetch("SELECT * FROM campaigns WHERE event_id = $1", event.id)
            ]
            return mails
        finally:
            await transaction.rollback()


def test_every_consumed_event_is_in_the_catalogue_with_examples() -> None:
    for sub in SUBSCRIPTIONS:
        assert CATALOGUE.knows(sub.event_type, sub.version), sub.event_type
        assert _schema(sub).get("examples"), f"{sub.event_type} has no examples"
    assert {s.event_type for s in SUBSCRIPTIONS} == set(PRODUCES)


def test_every_kind_of_email_has_an_event_that_sends_it() -> None:
    produced = set().union(*PRODUCES.values()) | {
        Kind.E_INVOICE,  # by an e-mail invoice
        Kind.REGISTRATION_NOTICE,  # by a registration when billing has another address
    }
    assert produced == set(Kind)


@pytest.mark.parametrize("sub", SUBSCRIPTIONS, ids=lambda s: s.event_type)
async def test_each_example_goes_through_its_handler_and_renders(
    pool: asyncpg.Pool, sub: Subscription
) -> None:
    for payload in _payloads(sub):
        mails = await _apply(pool, sub, payload)
        assert {kind for kind, _, _ in mails} == PRODUCES[sub.event_type], payload
        for kind, recipient, context in mails:
            if recipient is not None:
                recipient_address(recipient)  # one bare, valid address
            rendered = RENDERER.render(kind, context)
            prepare(rendered, sender=SENDER).finish(
                recipient=recipient or KNOWN_ADDRESS,
                message_id=f"<{uuid.uuid4().hex}@example.pl>",
                date=Event.new("x.y", {}).occurred_at,
            )
            assert BASE_URL.split("//")[1] in rendered.text


async def test_an_e_mail_invoice_is_an_e_invoice(pool: asyncpg.Pool) -> None:
    [sub] = [s for s in SUBSCRIPTIONS if s.event_type == "billing.invoice.issued"]
    example = _schema(sub)["examples"][0]
    payload = {**example, "delivery": "e-mail", "e_invoice_email": "efaktura@example.pl"}
    [(kind, recipient, _context)] = await _apply(pool, sub, payload)
    assert (kind, recipient) == (Kind.E_INVOICE, "efaktura@example.pl")


async def test_billings_address_of_record_gets_the_registration_notice(
    pool: asyncpg.Pool,
) -> None:
    [sub] = [s for s in SUBSCRIPTIONS if s.event_type == "auth.account.registered"]
    example = _schema(sub)["examples"][0]
    payload = {**example, "email_of_record": "ewidencja@example.pl"}
    mails = sorted(await _apply(pool, sub, payload), key=lambda m: m[0])
    assert [(kind, recipient) for kind, recipient, _ in mails] == [
        (Kind.ACTIVATION, example["email"]),
        (Kind.REGISTRATION_NOTICE, "ewidencja@example.pl"),
    ]
    notice_context = mails[1][2]
    assert "activation_token" not in str(notice_context)  # no secret to that address
    RENDERER.render(Kind.REGISTRATION_NOTICE, notice_context)


def test_no_event_brings_a_password_to_the_notifier() -> None:
    for sub in SUBSCRIPTIONS:
        fields = set(_schema(sub)["properties"])
        assert not {f for f in fields if "password" in f or "haslo" in f}, sub.event_type
