"""E-mails the customer was not getting (issue 14): an interest note issued, evidence asked
for on a case, a garden-meter request received, and the notice to billing's address of
record that an e-BOK account was registered. Through the real broker, database and SMTP."""

from __future__ import annotations

from typing import Any

from ebok_notifier.domain import Kind
from ebok_shared.bus import Event

from tests.notifier.harness import Notifier, unique_email
from tests.support.smtp import SmtpServer
from tests.support.waiting import eventually

CLIENT = "100001"


async def _user(notifier: Notifier) -> str:
    """An active e-BOK user in the notifier's projection, as auth's activation leaves it."""
    address = unique_email()
    activated = await notifier.emit(
        "auth.account.activated", {"client_number": CLIENT, "email": address}
    )
    await notifier.consumed(activated)
    return address


async def _one_sent(notifier: Notifier, smtp: SmtpServer, event: Event, to: str) -> Any:
    await eventually(lambda: notifier.sent(event), f"the e-mail of {event.type}")
    [received] = smtp.to(to)
    return received.message()


async def test_an_issued_interest_note_is_e_mailed(notifier: Notifier, smtp: SmtpServer) -> None:
    address = await _user(notifier)
    note = {
        "note_number": "NO/10000125110001/01",
        "client_number": CLIENT,
        "invoice_number": "10000125110001",
        "payment_id": "P-2026-000123",
        "reason": "late-payment",
        "issue_date": "2026-03-21",
        "kind": "household",
        "principal": "1000.00",
        "due_date": "2025-11-20",
        "interest_to": "2026-03-20",
        "days_late": 120,
        "periods": [
            {
                "from": "2025-11-21",
                "to": "2025-12-03",
                "days": 13,
                "annual_rate_percent": "9.75",
                "amount": "3.47",
            },
            {
                "from": "2025-12-04",
                "to": "2026-03-20",
                "days": 107,
                "annual_rate_percent": "9.50",
                "amount": "27.74",
            },
        ],
        "amount": "31.21",
        "payable_by": "2026-04-04",
        "recovery_compensation": None,
        "total": "31.21",
    }
    event = await notifier.emit("billing.interest_note.issued", note)
    message = await _one_sent(notifier, smtp, event, address)
    assert (
        message["Subject"] == "Nota odsetkowa nr NO/10000125110001/01 do faktury nr 10000125110001"
    )
    text = message.get_body(("plain",)).get_content()
    assert "od 21 listopada 2025 do 3 grudnia 2025: 13 dni, 9,75% w skali roku = 3,47" in text
    assert "Odsetki razem: 31,21" in text
    # delivery_for is Optional; a missing delivery fails the test with a TypeError
    assert (await notifier.delivery_for(event))["kind"] == Kind.INTEREST_NOTE  # type: ignore[index]


async def test_evidence_asked_for_on_a_case_is_e_mailed(
    notifier: Notifier, smtp: SmtpServer
) -> None:
    address = await _user(notifier)
    event = await notifier.emit(
        "correspondence.case.evidence_requested",
        {
            "case_id": "5b1f0c1e-8a4e-4a37-9a51-2f3c1d9e7a10",
            "case_number": "EBOK/2026/000123",
            "client_number": CLIENT,
            "kind": "reklamacja",
            "requested_at": "2026-03-05T12:00:00+00:00",
            "reply_due": "2026-04-01",
        },
    )
    message = await _one_sent(notifier, smtp, event, address)
    assert message["Subject"] == "Sprawa nr EBOK/2026/000123: prosimy o uzupełnienie dowodów"
    text = message.get_body(("plain",)).get_content()
    assert "przedłużony do 1 kwietnia 2026" in text
    assert "/korespondencja/5b1f0c1e-8a4e-4a37-9a51-2f3c1d9e7a10" in text


async def test_a_garden_meter_request_is_confirmed(notifier: Notifier, smtp: SmtpServer) -> None:
    address = await _user(notifier)
    event = await notifier.emit(
        "readings.garden_request.submitted",
        {
            "request_id": "0b8a6f1e-2d3c-4e5f-8a9b-1c2d3e4f5a6b",
            "client_number": CLIENT,
            "contract_number": "U/100001/2024",
            "kind": "installation",
            "done_on": "2026-04-02",
            "new_serial": "OG-2026-002",
            "old_serial": None,
            "submitted_at": "2026-04-03T08:00:00+00:00",
        },
    )
    message = await _one_sent(notifier, smtp, event, address)
    assert message["Subject"] == "Przyjęliśmy zgłoszenie: montaż wodomierza ogrodowego"
    assert "Wodomierz zamontowany: OG-2026-002." in message.get_body(("plain",)).get_content()


async def test_registration_tells_billings_address_of_record_without_the_link(
    notifier: Notifier, smtp: SmtpServer
) -> None:
    given, of_record = unique_email("formularz"), unique_email("ewidencja")
    payload = {
        "client_number": CLIENT,
        "email": given,
        "activation_token": "q3mV1bqSxkz2lL0m5WJz1wJ7o9iTfQ2rNfKXh8mK2yE",
        "expires_at": "2026-01-08T10:00:00+00:00",
        "email_of_record": of_record,
    }
    event = await notifier.emit("auth.account.registered", payload)

    async def both_sent() -> bool:
        rows = await notifier.deliveries(event_id=event.id)
        return len(rows) == 2 and all(r["status"] == "sent" for r in rows)

    await eventually(both_sent, "the activation and the notice")
    [notice] = smtp.to(of_record)
    message = notice.message()
    assert message["Subject"] == f"Zarejestrowano konto e-BOK dla numeru klienta {CLIENT}"
    assert b"q3mV1bqSxkz2lL0m5WJz1wJ7o9iTfQ2rNfKXh8mK2yE" not in notice.data  # no secret
    plain = message.get_body(("plain",))
    assert plain is not None and "zgłoś to" in plain.get_content()
    [activation] = smtp.to(given)
    assert activation.message()["Subject"] != message["Subject"]

    # Without an address of record (or the same one), only the activation goes out.
    alone = await notifier.emit("auth.account.registered", {**payload, "email_of_record": None})
    await eventually(lambda: notifier.sent(alone), "the activation alone")
    assert len(await notifier.deliveries(event_id=alone.id)) == 1
