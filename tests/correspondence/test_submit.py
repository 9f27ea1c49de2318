"""Sending a document: each kind with its own required fields, Polish problems naming the
field and the reason, a readable case number at once, the reply deadline, the events, and
"send" pressed twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from typing import Any

import asyncpg
import pytest
from ebok_shared.clock import UTC, clock

from tests.correspondence.harness import PDF, PNG, Correspondence, documents

NOW = dt.datetime(2026, 3, 2, 9, 15, tzinfo=UTC)  # 10:15 in Warsaw
REQUIRED = {
    "failure_report": ["place", "description", "since", "contact_phone"],
    "water_quality_complaint": ["place", "problems", "since"],
    "data_change": ["changes"],
    "reklamacja": ["reason"],
    "letter": ["subject", "content"],
}


@pytest.fixture(autouse=True)
def _frozen() -> None:
    clock.freeze(NOW)


async def test_each_kind_gets_a_case_number_status_and_its_deadline(svc: Correspondence) -> None:
    await svc.give_invoice("10000126010001")
    answers = {}
    for kind, document in documents().items():
        answers[kind] = await svc.submit(document)

    numbers = [a["number"] for a in answers.values()]
    assert all(re.fullmatch(r"EBOK/2026/\d{6}", n) for n in numbers)
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    for kind, answer in answers.items():
        assert answer["kind"] == kind
        assert answer["status"] == "received"
        assert answer["status_label"] == "Przyjęte"
        assert answer["urgent"] is (kind == "failure_report")
        deadline = kind in ("reklamacja", "water_quality_complaint")
        assert answer["reply_due"] == ("2026-03-16" if deadline else None)
    assert answers["failure_report"]["kind_label"] == "Zgłoszenie awarii"


async def test_a_missing_required_field_is_named_in_polish(svc: Correspondence) -> None:
    for kind, required in REQUIRED.items():
        answer = await svc.submit({"kind": kind}, expect=422)
        assert answer["code"] == "validation", kind
        assert {e["field"] for e in answer["errors"]} == set(required), kind
        assert {e["reason"] for e in answer["errors"]} == {"pole jest wymagane"}, kind
        assert answer["detail"].startswith("Popraw wskazane pola"), kind
        assert answer["status"] == 422


WRONG_VALUES: list[tuple[str, dict[str, Any], str, str]] = [
    ("failure_report", {"since": "2026-03-03"}, "since", "data nie może być z przyszłości"),
    ("failure_report", {"since": "wczoraj"}, "since", "nieprawidłowa data"),
    (
        "failure_report",
        {"contact_phone": "12-34 abc 99"},
        "contact_phone",
        "nieprawidłowy numer telefonu",
    ),
    ("failure_report", {"description": "   "}, "description", "pole nie może być puste"),
    ("water_quality_complaint", {"problems": ["rust"]}, "problems.0", "dozwolone wartości"),
    (
        "water_quality_complaint",
        {"problems": ["other"], "description": None},
        "description",
        "opisz problem",
    ),
    ("data_change", {"changes": {}}, "changes", "co najmniej jedną"),
    (
        "data_change",
        {"changes": {"address": {"street": "x", "postal_code": "00850", "city": "W"}}},
        "changes.address.postal_code",
        "nieprawidłowy format",
    ),
    ("reklamacja", {"invoice_number": None}, "invoice_number", "numer faktury albo"),
    ("reklamacja", {"meter_serial": "WM-1"}, "meter_serial", "podaj jedno"),
    ("letter", {"content": "x" * 10001}, "content", "za długie (najwyżej 10000 znaków)"),
    ("letter", {"colour": "red"}, "colour", "nieznane pole"),
]


async def test_a_wrong_value_is_named_with_its_reason(svc: Correspondence) -> None:
    for kind, change, field, reason in WRONG_VALUES:
        document = {**documents()[kind], **change}
        document = {k: v for k, v in document.items() if v is not None}
        answer = await svc.submit(document, expect=422)
        assert [e["field"] for e in answer["errors"]] == [field], (kind, change)
        assert reason in answer["errors"][0]["reason"], (kind, change)
    assert await svc.pool.fetchval("SELECT count(*) FROM cases") == 0


async def test_an_unknown_kind_and_a_body_that_is_not_a_document_are_refused(
    svc: Correspondence,
) -> None:
    answer = await svc.submit({"kind": "compliment"}, expect=422)
    assert answer["errors"] == [
        {
            "field": "kind",
            "reason": "dozwolone wartości: failure_report, "
            "water_quality_complaint, data_change, reklamacja, letter",
        }
    ]
    resp = await svc.client.post(
        "/me/correspondence",
        data=b"{not json",
        headers={**svc.issuer.customer(), "Content-Type": "application/json"},
    )
    assert resp.status == 400
    assert resp.content_type == "application/problem+json"
    resp = await svc.client.post(
        "/me/correspondence",
        data=b"kind=letter",
        headers={**svc.issuer.customer(), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status == 415
    assert (await resp.json(content_type=None))["errors"][0]["field"] == "Content-Type"


async def test_a_document_over_its_limit_is_refused(svc: Correspondence) -> None:
    document = {**documents()["letter"], "content": "ą" * 40_000}  # 80 kB of UTF-8
    answer = await svc.submit(document, expect=413)
    assert answer["errors"][0]["field"] == "(body)"
    answer = await svc.submit(document, files=[("a.pdf", PDF, "application/pdf")], expect=413)
    assert answer["errors"][0]["field"] == "document"


async def test_numbers_are_unique_and_rise_under_concurrent_submissions(
    svc: Correspondence,
) -> None:
    letter = documents()["letter"]
    answers = await asyncio.gather(
        *(svc.submit(letter, client_number=f"1000{n:02d}") for n in range(12))
    )
    numbers = [a["number"] for a in answers]
    assert len(set(numbers)) == 12
    rows = await svc.pool.fetch("SELECT number FROM cases ORDER BY submitted_at, number")
    assert sorted(numbers) == [r["number"] for r in rows]
    later = await svc.submit(letter)
    assert later["number"] > max(numbers)
    clock.freeze(dt.datetime(2027, 1, 1, 0, 30, tzinfo=UTC))  # a new year in Warsaw
    assert (await svc.submit(letter))["number"] == "EBOK/2027/000001"


async def test_submission_publishes_case_submitted_for_the_confirmation_email(
    svc: Correspondence,
) -> None:
    answer = await svc.submit(
        documents()["failure_report"], files=[("zdjecie.png", PNG, "image/png")]
    )
    [event] = await svc.tap.wait_for("correspondence.case.submitted", case_id=answer["id"])
    assert event.payload == {
        "case_id": answer["id"],
        "case_number": answer["number"],
        "client_number": "100001",
        "kind": "failure_report",
        "urgent": True,
        "submitted_at": NOW.isoformat(),
        "reply_due": None,
        "attachments": 1,
    }
    assert event.producer == "correspondence"


async def test_send_pressed_twice_creates_one_case(svc: Correspondence) -> None:
    letter = documents()["letter"]
    first = await svc.submit(letter, key="send-1")
    again = await svc.submit(letter, key="send-1")
    assert again["_replayed"] == "true" and first["_replayed"] is None
    assert {k: v for k, v in again.items() if not k.startswith("_")} == {
        k: v for k, v in first.items() if not k.startswith("_")
    }
    other = await svc.submit({**letter, "subject": "Inna sprawa"}, key="send-1", expect=422)
    assert other["code"] == "idempotency-key-reused"
    assert other["errors"] == [{"field": "Idempotency-Key", "reason": "klucz użyty z inną treścią"}]
    # the same key is another customer's own
    assert (await svc.submit(letter, client_number="100002", key="send-1"))["_replayed"] is None
    assert await svc.pool.fetchval("SELECT count(*) FROM cases") == 2
    # Past any request (a crash between the case and its answer), the table itself refuses
    # a second case of one client with one key.
    with pytest.raises(asyncpg.UniqueViolationError):
        await svc.pool.execute(
            "INSERT INTO cases (id, number, client_number, kind, urgent, status, details,"
            " submitted_at, updated_at, idempotency_key, request_hash)"
            " SELECT gen_random_uuid(), number || '-2', client_number, kind, urgent, status,"
            " details, submitted_at, updated_at, idempotency_key, request_hash"
            " FROM cases WHERE id = $1",
            uuid.UUID(first["id"]),
        )
    bad = await svc.submit(letter, key="x" * 201, expect=400)
    assert bad["errors"] == [{"field": "Idempotency-Key", "reason": "nieprawidłowy klucz"}]


async def test_a_form_sent_again_with_a_new_boundary_is_the_same_request(
    svc: Correspondence,
) -> None:
    files = [("skan.pdf", PDF, "application/pdf")]
    first = await svc.submit(documents()["letter"], files=files, key="form-1")
    again = await svc.submit(documents()["letter"], files=files, key="form-1")
    assert again["_replayed"] == "true" and again["id"] == first["id"]
    changed = [("skan.pdf", PDF + b"%", "application/pdf")]
    assert (await svc.submit(documents()["letter"], files=changed, key="form-1", expect=422))[
        "code"
    ] == "idempotency-key-reused"
    assert await svc.pool.fetchval("SELECT count(*) FROM attachments") == 1


async def test_concurrent_sends_with_one_key_create_one_case(svc: Correspondence) -> None:
    files = [("skan.pdf", PDF, "application/pdf")]
    answers = await asyncio.gather(
        *(svc.submit(documents()["letter"], files=files, key="race-1") for _ in range(6))
    )
    assert len({a["id"] for a in answers}) == 1
    assert sum(a["_replayed"] is None for a in answers) == 1
    assert await svc.pool.fetchval("SELECT count(*) FROM cases") == 1
    assert await svc.pool.fetchval("SELECT count(*) FROM attachments") == 1
    await svc.settled()
    events = await svc.tap.wait_for("correspondence.case.submitted")
    assert len([e for e in svc.tap.received if e.type == "correspondence.case.submitted"]) == 1
    assert events[0].payload["case_id"] == answers[0]["id"]
    # The repeats took no number: the next case has the one after the first.
    assert answers[0]["number"] == "EBOK/2026/000001"
    assert (await svc.submit(documents()["letter"]))["number"] == "EBOK/2026/000002"


async def test_a_repeat_is_answered_as_the_first_send_even_once_the_invoice_is_gone(
    svc: Correspondence,
) -> None:
    """A first send makes no lookup of its key: a repeat is found by the case's insert, its
    attachments written again and undone; a reklamacja's invoice that is no longer the
    client's does not change the first answer, and refuses a new send."""
    await svc.give_invoice("10000126010001")
    reklamacja = documents()["reklamacja"]
    files = [("skan.pdf", PDF, "application/pdf")]
    first = await svc.submit(reklamacja, files=files, key="rek-1")
    await svc.pool.execute("DELETE FROM known_invoices WHERE invoice_number = '10000126010001'")
    again = await svc.submit(reklamacja, files=files, key="rek-1")
    assert again["_replayed"] == "true" and again["id"] == first["id"]
    assert again["attachments"] == first["attachments"]
    changed = {**reklamacja, "reason": "Inny powód."}
    other = await svc.submit(changed, files=files, key="rek-1", expect=422)
    assert other["code"] == "idempotency-key-reused"
    refused = await svc.submit(reklamacja, files=files, key="rek-2", expect=422)
    assert refused["code"] == "not-your-invoice"
    for table, count in (("cases", 1), ("attachments", 1), ("attachment_chunks", 1)):
        assert await svc.pool.fetchval(f"SELECT count(*) FROM {table}") == count, table
    assert await svc.pool.fetchval("SELECT last_number FROM case_counters") == 1
