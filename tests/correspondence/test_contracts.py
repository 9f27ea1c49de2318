"""Contracts: every event this service publishes has its catalogue schema (with valid
examples, nothing undeclared), the payload builders meet them, the events it consumes are
taken as their schemas' examples describe, and the gateway's routes for correspondence are
all served here."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from ebok_correspondence import events
from ebok_correspondence.app import SPEC
from ebok_correspondence.settings import CorrespondenceSettings
from ebok_gateway.routes import ROUTES
from ebok_shared.bus import Event
from ebok_shared.bus.catalogue import default_catalogue
from ebok_shared.config import ConfigError
from jsonschema import Draft202012Validator, FormatChecker

from tests.correspondence.harness import Correspondence, documents, unique_contract
from tests.support.payloads import contract_concluded

CASE = {
    "id": uuid.uuid4(),
    "number": "EBOK/2026/000001",
    "client_number": "100001",
    "kind": "reklamacja",
    "urgent": False,
    "details": {
        "invoice_number": "10000126010001",
        "reason": "Za dużo.",
        "changes": {"phone": "600100200"},
    },
    "submitted_at": dt.datetime(2026, 3, 2, 9, 15, tzinfo=dt.UTC),
    "reply_due": dt.date(2026, 3, 16),
    "unlinked_at": None,
}
ATTACHMENT = {
    "id": uuid.uuid4(),
    "filename": "a.pdf",
    "content_type": "application/pdf",
    "size": 10,
}
AT = dt.datetime(2026, 3, 3, 10, 0, tzinfo=dt.UTC)
BUILT: dict[str, dict[str, Any]] = {
    events.CASE_SUBMITTED: events.case_submitted(CASE, 1),
    events.CASE_ASSIGNED: events.case_assigned(CASE, "op-1", AT),
    events.CASE_ANSWERED: events.case_answered(CASE, uuid.uuid4(), AT),
    events.CASE_CLOSED: events.case_closed({**CASE, "unlinked_at": AT}, "op-1", AT),
    events.DATA_CHANGE_REQUESTED: events.data_change_requested(CASE, [ATTACHMENT]),
    events.REKLAMACJA_FILED: events.reklamacja_filed(CASE, [ATTACHMENT]),
    events.EVIDENCE_REQUESTED: events.evidence_requested(CASE, dt.date(2026, 4, 1), AT),
    events.ATTACHMENTS_ADDED: events.attachments_added(CASE, [ATTACHMENT], AT),
}


@pytest.mark.parametrize("event_type", events.PUBLISHED)
def test_every_published_event_has_a_strict_schema_with_valid_examples(event_type: str) -> None:
    catalogue = default_catalogue()
    assert catalogue.knows(event_type, 1)
    schema = catalogue.schemas[(event_type, 1)]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"])
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    assert schema["examples"]
    for example in schema["examples"]:
        validator.validate(example)
    catalogue.validate(Event.new(event_type, BUILT[event_type]))  # the builder meets it


def test_events_of_an_unlinked_case_name_no_client() -> None:
    assert BUILT[events.CASE_CLOSED]["client_number"] is None
    assert BUILT[events.CASE_ASSIGNED]["client_number"] == "100001"


def test_the_back_office_inbox_takes_every_published_event() -> None:
    assert set(SPEC.backoffice_events) == set(events.PUBLISHED)


async def test_consumed_events_as_their_schema_examples_describe_them(
    svc: Correspondence,
) -> None:
    catalogue = default_catalogue()
    subscribed = {s.event_type for s in SPEC.subscriptions}
    assert {"billing.invoice.issued", "billing.contract.concluded"} <= subscribed
    for event_type in subscribed:
        assert catalogue.knows(event_type, 1), event_type
    [invoice] = catalogue.schemas[("billing.invoice.issued", 1)]["examples"]
    [contract] = catalogue.schemas[("billing.contract.concluded", 1)]["examples"]
    await svc.emit("billing.invoice.issued", invoice)
    await svc.emit("billing.contract.concluded", contract)
    await svc.emit(
        "billing.contract.concluded",
        contract_concluded("100001", contract_number=unique_contract("100001"), serials=["WM-9"]),
    )
    twice = Event.new("billing.invoice.issued", {**invoice, "invoice_number": "10000126010002"})
    for _ in range(2):  # redelivered: taken once
        await svc.publish(twice)

    from tests.support.waiting import eventually

    async def taken() -> bool:
        return (
            await svc.pool.fetchval("SELECT count(*) FROM known_invoices") == 2
            and await svc.pool.fetchval("SELECT count(*) FROM known_meters") == 2
        )

    await eventually(taken, "billing's events taken")
    rows = await svc.pool.fetch("SELECT * FROM known_meters ORDER BY serial")
    assert [(r["serial"], r["client_number"]) for r in rows] == [
        ("WM-100001-1", "100001"),
        ("WM-9", "100001"),
    ]
    # and now the client may file a reklamacja naming them
    answer = await svc.submit({**documents()["reklamacja"], "invoice_number": "10000126010002"})
    assert answer["kind"] == "reklamacja"


async def test_every_gateway_route_of_correspondence_is_served(svc: Correspondence) -> None:
    """The gateway strips /api/v1 and forwards: each of its correspondence routes must reach a
    handler here (a problem from the handler, never the router's 404/405)."""
    ours = [r for r in ROUTES if r.service == "correspondence" and r.access == "customer"]
    assert {(r.method, r.path) for r in ours} == {
        ("GET", "/me/correspondence"),
        ("POST", "/me/correspondence"),
        ("GET", "/me/correspondence/{case_id}"),
        ("GET", "/me/correspondence/{case_id}/attachments/{attachment_id}"),
        ("POST", "/me/correspondence/{case_id}/attachments"),
    }
    gateway_limit = max(r.max_body for r in ours if r.method == "POST")
    assert svc.settings.max_body_bytes >= gateway_limit
    case_id, attachment_id = uuid.uuid4(), uuid.uuid4()
    for route in ours:
        path = route.path.format(case_id=case_id, attachment_id=attachment_id)
        resp = await svc.client.request(
            route.method,
            path,
            headers=svc.issuer.customer(),
            json={} if route.method == "POST" else None,
        )
        body = await resp.json(content_type=None)
        assert resp.status in (200, 404, 415, 422), (route.path, resp.status)
        if resp.status == 404:
            assert body["detail"] != "Nie znaleziono żądanego zasobu.", route.path  # router's
    # the operator routes (as correspondence serves them: /operator/…) and dashboard/export
    operator_routes = [r for r in ROUTES if r.service == "correspondence" and r.role]
    assert len(operator_routes) > 8
    for route in operator_routes:
        path = route.service_path.format(
            case_id=case_id, attachment_id=attachment_id, message_id="x"
        )
        resp = await svc.client.request(
            route.method,
            path,
            headers=svc.issuer.operator(),
            json={} if route.method != "GET" else None,
        )
        body = await resp.json(content_type=None)
        assert resp.status in (200, 400, 404, 422), (route.path, resp.status)
        if resp.status == 404:
            assert body["detail"] != "Nie znaleziono żądanego zasobu.", route.path  # router's
    assert (await svc.client.get("/operator/cases", headers=svc.issuer.operator())).status == 200
    assert (await svc.client.get("/me/export", headers=svc.issuer.customer())).status == 200


def test_the_body_limit_must_admit_five_full_attachments() -> None:
    base = {"database_url": "postgresql://x/y"}
    settings = CorrespondenceSettings.from_env({}, **base)
    assert settings.max_body_bytes >= 5 * settings.attachment_max_bytes + 64 * 1024
    assert settings.attachment_max_bytes == 10 * 1024 * 1024 and settings.attachments_max == 5
    with pytest.raises(ConfigError, match="EBOK_MAX_BODY_BYTES"):
        CorrespondenceSettings.from_env({}, **base, max_body_bytes=50 * 1024 * 1024)
    with pytest.raises(ConfigError, match="EBOK_REPLY_DAYS"):
        CorrespondenceSettings.from_env({"EBOK_REPLY_DAYS": "0"}, **base)
