"""Contracts: every event auth publishes has a strict catalogue schema whose examples hold;
every billing event auth consumes is applied from the catalogue's own examples; the HTTP API
answers problems (application/problem+json) for what it refuses."""

from __future__ import annotations

import copy

import pytest
from ebok_auth import events
from ebok_auth.app import SPEC
from ebok_shared.bus import Event, default_catalogue

from tests.auth.harness import Auth

CONSUMED = {
    "billing.client.upserted",
    "billing.contract.concluded",
    "billing.contract.terminated",
    "billing.invoice.issued",
}


@pytest.mark.parametrize("event_type", events.PUBLISHED)
def test_published_event_has_a_strict_documented_schema(event_type: str) -> None:
    catalogue = default_catalogue()
    schema = catalogue.schemas[(event_type, 1)]
    assert schema["additionalProperties"] is False
    assert schema["description"] and schema["examples"]
    assert set(schema["required"]) == set(schema["properties"])
    for example in schema["examples"]:
        catalogue.validate(Event.new(event_type, example))
        extra = {**example, "password": "x"}
        with pytest.raises(ValueError):
            catalogue.validate(Event.new(event_type, extra))


def test_auth_subscribes_to_exactly_the_billing_facts_it_needs() -> None:
    # and every service's refused access, for the audit log (ebok_shared.http.refusal_audit)
    assert {s.event_type for s in SPEC.subscriptions} == CONSUMED | {"security.access.refused"}
    assert all(default_catalogue().knows(t, 1) for t in CONSUMED)


async def test_catalogue_examples_of_consumed_events_are_applied(auth: Auth) -> None:
    examples = {
        t: copy.deepcopy(default_catalogue().schemas[(t, 1)]["examples"][0]) for t in CONSUMED
    }
    for event_type in (
        "billing.client.upserted",
        "billing.contract.concluded",
        "billing.invoice.issued",
    ):
        await auth.billing(event_type, examples[event_type])
    client = examples["billing.client.upserted"]["client_number"]
    invoice = examples["billing.invoice.issued"]
    assert (
        await auth.pool.fetchval("SELECT email FROM clients WHERE client_number = $1", client)
        == examples["billing.client.upserted"]["email"]
    )
    assert (
        str(
            await auth.pool.fetchval(
                "SELECT gross FROM invoices WHERE invoice_number = $1", invoice["invoice_number"]
            )
        )
        == invoice["gross"]
    )
    await auth.billing("billing.contract.terminated", examples["billing.contract.terminated"])
    assert (
        await auth.pool.fetchval(
            "SELECT terminated_on::text FROM contracts WHERE contract_number = $1",
            examples["billing.contract.terminated"]["contract_number"],
        )
        == examples["billing.contract.terminated"]["terminated_on"]
    )
    # A redelivered event is applied once (the inbox): replaying the first invoice event
    # after a newer one must not bring the old amount back.
    first = await auth.billing("billing.invoice.issued", invoice)
    await auth.billing("billing.invoice.issued", {**invoice, "gross": "1.00"})
    await auth.publish(first)
    # One queue, one consumer: once a later marker is handled, the replay was too.
    await auth.billing("billing.client.upserted", examples["billing.client.upserted"])
    assert (
        str(
            await auth.pool.fetchval(
                "SELECT gross FROM invoices WHERE invoice_number = $1", invoice["invoice_number"]
            )
        )
        == "1.00"
    )


async def test_refusals_are_problem_documents(auth: Auth) -> None:
    resp = await auth.client.post(
        "/sessions", data="login=1", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert resp.status == 415 and resp.content_type == "application/problem+json"
    resp = await auth.client.post(
        "/sessions", data="{nope", headers={"Content-Type": "application/json"}
    )
    assert resp.status == 400 and (await resp.json())["code"] == "malformed-json"
    resp = await auth.client.post(
        "/registrations", data=b"x" * (300 * 1024), headers={"Content-Type": "application/json"}
    )
    assert resp.status == 413 and resp.content_type == "application/problem+json"
    status, problem = await auth.call("GET", "/me")
    assert status == 401 and problem["code"] == "unauthorized"
    status, problem = await auth.call("GET", "/operator/accounts")
    assert status == 401
    status, problem = await auth.call("GET", "/regulations/99")
    assert status == 404 and problem["title"] == "Nie znaleziono"
    status, problem = await auth.call("POST", "/activations", json_body={"token": "x" * 43})
    assert status == 410 and problem["code"] == "link-invalid"
    status, problem = await auth.call(
        "POST", "/sessions/refresh", json_body={"refresh_token": "x" * 43}
    )
    assert status == 401 and problem["code"] == "invalid-refresh-token"
