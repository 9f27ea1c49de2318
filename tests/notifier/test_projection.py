"""The notifier's own list of users, fed by auth's events over the real broker: who is
active (campaigns go to them), which address each has, and nothing left of a deleted one."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ebok_notifier.domain import Kind
from ebok_shared.bus import Event

from tests.notifier.harness import Notifier, unique_email
from tests.support.smtp import SmtpServer
from tests.support.waiting import eventually


def _auth(event_type: str, payload: dict[str, Any], **fields: Any) -> Event:
    return Event(type=event_type, payload=payload, producer="auth", correlation_id="t", **fields)


async def _recipient(notifier: Notifier, client_number: str) -> dict[str, Any] | None:
    row = await notifier.pool.fetchrow(
        "SELECT email, status FROM recipients WHERE client_number = $1", client_number
    )
    return dict(row) if row else None


async def _handled(notifier: Notifier, *events: Event) -> None:
    ids = [e.id for e in events]

    async def all_in_inbox() -> bool:
        found = await notifier.pool.fetchval(
            "SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])", ids
        )
        return bool(found == len(ids))

    await eventually(all_in_inbox, "the events to be handled")


async def test_users_follow_auths_events(notifier: Notifier, smtp: SmtpServer) -> None:
    first, second, old = unique_email("a"), unique_email("b"), unique_email("stary")
    activated = [
        await notifier.emit("auth.account.activated", {"client_number": "200001", "email": old}),
        await notifier.emit("auth.account.activated", {"client_number": "200002", "email": second}),
    ]
    await _handled(notifier, *activated)
    blocked = await notifier.emit(
        "auth.account.blocked",
        {"client_number": "200002", "email": second, "reason": "Nadużycie.", "by": "operator:ola"},
    )
    changed = await notifier.emit(
        "auth.email.changed", {"client_number": "200001", "email": first, "previous_email": old}
    )
    await _handled(notifier, blocked, changed)

    assert await _recipient(notifier, "200001") == {"email": first, "status": "active"}
    assert await _recipient(notifier, "200002") == {"email": second, "status": "blocked"}
    await eventually(lambda: notifier.sent(changed), "the previous address to be told")
    [notice] = smtp.to(old)  # a hijacked account gets noticed at the old address
    assert notice.message()["Subject"] == "Adres e-mail konta e-BOK został zmieniony"
    await eventually(lambda: notifier.sent(blocked), "the block notice")
    # delivery_for is Optional; a missing delivery fails the test with a TypeError
    assert (await notifier.delivery_for(blocked))["kind"] == Kind.ACCOUNT_BLOCKED  # type: ignore[index]

    unblocked = await notifier.emit(
        "auth.account.unblocked",
        {"client_number": "200002", "email": second, "reason": "Wyjaśniono.", "by": "operator:ola"},
    )
    await _handled(notifier, unblocked)
    assert await _recipient(notifier, "200002") == {"email": second, "status": "active"}


async def test_a_late_older_event_changes_nothing(notifier: Notifier) -> None:
    address = unique_email()
    now = dt.datetime.now(dt.UTC)
    blocked = _auth(
        "auth.account.blocked",
        {"client_number": "200003", "email": address, "reason": "Nadużycie.", "by": "system"},
        occurred_at=now,
    )
    late = _auth(
        "auth.account.activated",
        {"client_number": "200003", "email": address},
        occurred_at=now - dt.timedelta(minutes=5),
    )
    await notifier.publish(blocked)
    await _handled(notifier, blocked)
    await notifier.publish(late)
    await _handled(notifier, late)
    assert await _recipient(notifier, "200003") == {"email": address, "status": "blocked"}


async def test_deleting_an_account_confirms_erases_and_cancels(
    notifier: Notifier, smtp: SmtpServer
) -> None:
    address = unique_email()
    activated = await notifier.emit(
        "auth.account.activated", {"client_number": "200004", "email": address}
    )
    await _handled(notifier, activated)
    smtp.stop()  # so the next e-mail is still waiting when the account goes
    answered = await notifier.emit(
        "correspondence.case.answered",
        {
            "case_id": "5b1f0c1e-8a4e-4a37-9a51-2f3c1d9e7a10",
            "case_number": "EBOK/2026/000123",
            "client_number": "200004",
            "kind": "letter",
            "reply_id": "0e6f6a52-3c1b-4b8e-8d0a-6a2e5f1c9b44",
            "answered_at": "2026-03-05T12:00:00+00:00",
        },
    )
    await eventually(lambda: notifier.has_status(answered, "pending"), "the answer notice to wait")
    deleted = await notifier.emit("auth.account.deleted", {"client_number": "200004"})
    await _handled(notifier, deleted)
    smtp.start()

    await eventually(lambda: notifier.sent(deleted), "the deletion to be confirmed")
    [confirmation] = smtp.to(address)
    assert confirmation.message()["Subject"] == "Potwierdzenie usunięcia konta e-BOK"
    assert await _recipient(notifier, "200004") == {"email": None, "status": "deleted"}
    cancelled = await notifier.delivery_for(answered)
    assert cancelled is not None and cancelled["status"] == "cancelled"
    # Issue #15 item 5: the delivery log keeps what was sent and when, not to which address
    # (the confirmation's own row loses it once sent).
    logged = await notifier.deliveries(client_number="200004")
    assert {r["kind"] for r in logged} == {"case_answered", "account_deleted"}
    assert all(r["recipient"] is None and r["context"] is None for r in logged)
    assert address not in str([dict(r) for r in logged])
    assert all(r["message_id"].startswith("<erased.") for r in logged)

    # Nothing further reaches the erased address; the same number may register again.
    later = await notifier.emit(
        "readings.garden_meter.reading_due",
        {
            "client_number": "200004",
            "contract_number": "U/200004/2024",
            "meter_serial": "OG-2026-001",
            "due_on": "2026-09-15",
            "last_read_on": None,
        },
    )
    again = await notifier.emit(
        "auth.account.activated", {"client_number": "200004", "email": unique_email()}
    )
    await _handled(notifier, later, again)
    assert await notifier.delivery_for(later) is None
    # Optional; a missing recipient fails the test with a TypeError
    assert (await _recipient(notifier, "200004"))["status"] == "active"  # type: ignore[index]


async def test_case_without_an_account_emails_nobody(notifier: Notifier) -> None:
    submitted = await notifier.emit(
        "correspondence.case.submitted",
        {
            "case_id": "5b1f0c1e-8a4e-4a37-9a51-2f3c1d9e7a10",
            "case_number": "EBOK/2026/000124",
            "client_number": None,
            "kind": "letter",
            "urgent": False,
            "submitted_at": "2026-03-02T09:15:00+00:00",
            "reply_due": None,
            "attachments": 0,
        },
    )
    await _handled(notifier, submitted)
    assert await notifier.delivery_for(submitted) is None
