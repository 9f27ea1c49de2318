"""Contracts: every event readings publishes has a catalogue schema (with examples, closed to
unknown fields) and what goes on the broker matches it; the events readings consumes are
taken off the broker once; every public route the gateway forwards to readings is served,
with the response shapes the portal relies on."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from aiohttp import web
from ebok_gateway.routes import PREFIX, ROUTES
from ebok_readings import events
from ebok_readings.app import SPEC
from ebok_shared.bus import Event, default_catalogue
from ebok_shared.bus.catalogue import CATALOGUE_DIR
from jsonschema import Draft202012Validator

from tests.readings.harness import (
    PNG,
    TODAY,
    Readings,
    freeze,
    running_readings,
    seed_history,
    settings_for,
)
from tests.support.answers import problem
from tests.support.bus import consumed_total
from tests.support.payloads import contract_concluded
from tests.support.tokens import Issuer
from tests.support.waiting import eventually


def test_every_published_event_has_a_closed_schema_with_valid_examples() -> None:
    catalogue = default_catalogue()
    for event_type in events.PUBLISHED:
        schema = catalogue.schemas[(event_type, 1)]
        assert schema["additionalProperties"] is False, event_type
        assert set(schema["required"]) == set(schema["properties"]), event_type
        assert schema["examples"], event_type
        for example in schema["examples"]:
            catalogue.validate(Event.new(event_type, example))
    # Billing consumes reading.accepted in exactly this shape.
    accepted = catalogue.schemas[(events.READING_ACCEPTED, 1)]
    assert accepted["required"] == [
        "reading_id",
        "meter_serial",
        "contract_number",
        "client_number",
        "value",
        "read_on",
        "kind",
    ]
    files = {p.name for p in CATALOGUE_DIR.glob("readings.*.json")}
    assert files == {f"{t}.v1.json" for t in events.PUBLISHED}


def test_every_gateway_route_to_readings_is_served() -> None:
    routes = [r for r in SPEC.routes if isinstance(r, web.RouteDef)]
    assert len(routes) == len(SPEC.routes)  # every route a plain method and path
    served = {(r.method, r.path) for r in routes}
    # As readings serves them (operator routes without /<service>); the shared dead-letter
    # routes come from ebok_shared (tests/gateway/test_routes_served.py covers them).
    forwarded = {
        (r.method, r.service_path)
        for r in ROUTES
        if r.service == "readings" and not r.service_path.startswith("/operator/dead-letters")
    }
    assert forwarded and forwarded <= served, forwarded - served
    assert PREFIX == "/api/v1"


M3 = {"type": "string", "pattern": r"^\d{1,9}\.\d{3}$"}
M3_OR_NULL = {"type": ["string", "null"], "pattern": r"^\d{1,9}\.\d{3}$"}
DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
READING = {
    "type": "object",
    "required": [
        "id",
        "meter_serial",
        "value",
        "read_on",
        "source",
        "status",
        "submitted_at",
        "has_photo",
    ],
    "properties": {
        "value": M3,
        "read_on": DATE,
        "daily_consumption": M3_OR_NULL,
        "status": {"enum": ["accepted", "to_verify", "rejected"]},
        "source": {"enum": ["customer", "inspector", "remote", "estimate"]},
    },
}


def page_of(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "page", "page_size", "total", "pages"],
        "properties": {"items": {"type": "array", "items": item}},
    }


RESPONSES = {
    "meters": {
        "type": "object",
        "required": ["items", "reading_window"],
        "properties": {
            "items": {
                "type": "array",
                "minItems": 2,
                "items": {
                    "type": "object",
                    "required": [
                        "serial",
                        "kind",
                        "contract_number",
                        "status",
                        "installed_on",
                        "last_reading",
                    ],
                    "properties": {
                        "kind": {"enum": ["main", "garden"]},
                        "last_reading": {
                            "type": ["object", "null"],
                            "properties": {"value": M3, "read_on": DATE},
                        },
                        "garden": {
                            "type": "object",
                            "required": ["legalisation_expires_on", "next_reading_dates"],
                        },
                    },
                },
            }
        },
    },
    "readings": page_of(READING),
    "created": READING,
    "consumption": {
        "type": "object",
        "required": ["from", "to", "months", "total_water_m3", "total_garden_m3"],
        "properties": {
            "months": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": [
                        "month",
                        "water_m3",
                        "garden_m3",
                        "days_measured",
                        "average_per_day_m3",
                    ],
                    "properties": {
                        "water_m3": M3,
                        "garden_m3": M3,
                        "average_per_day_m3": M3_OR_NULL,
                        "month": {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
                    },
                },
            }
        },
    },
    "requests": page_of(
        {"type": "object", "required": ["id", "kind", "status", "history", "reason"]}
    ),
    "problem": {"type": "object", "required": ["type", "title", "status", "detail", "code"]},
}


async def test_customer_api_answers_in_the_agreed_shapes(readings: Readings) -> None:
    await readings.conclude()
    await readings.feed(
        "meters",
        "action,serial,kind,contract_number,date,initial_value,"
        "seal_number\ninstall,OG-1,garden,U/100001/2024,2025-05-01,"
        "0.000,PL-1\n",
    )
    await seed_history(readings, "WM-100001-1", [(dt.date(2026, 1, 1), "10.000")])
    me = readings.issuer.customer()
    answers = {
        "created": await readings.submit(value="12.000", photo=(PNG, "a.png")),
        "meters": await readings.client.get("/me/meters", headers=me),
        "readings": await readings.client.get("/me/meters/WM-100001-1/readings", headers=me),
        "consumption": await readings.client.get("/me/consumption", headers=me),
        "requests": await readings.client.get("/me/garden-meter-requests", headers=me),
        "problem": await readings.submit(value="1.000"),
    }
    for name, response in answers.items():
        body = json.loads(await response.text())
        errors = list(Draft202012Validator(RESPONSES[name]).iter_errors(body))
        assert not errors, (name, errors[0].message)
    assert answers["problem"].content_type == "application/problem+json"


async def test_billing_events_are_consumed_off_the_broker_once(readings: Readings) -> None:
    concluded = Event.new(
        events.CONTRACT_CONCLUDED,
        contract_concluded(
            "100001",
            contract_number="U/100001/2024",
            serials=["WM-100001-1", "WM-100001-2"],
        ),
    )
    duplicates = consumed_total("readings", events.CONTRACT_CONCLUDED, "duplicate")
    await readings.publish(concluded)
    await readings.publish(concluded)  # redelivered: applied once
    await eventually(
        lambda: consumed_total("readings", events.CONTRACT_CONCLUDED, "duplicate") > duplicates,
        "the duplicate seen",
    )
    meters = await readings.pool.fetch("SELECT serial, contract_number FROM meters ORDER BY 1")
    assert [(m["serial"], m["contract_number"]) for m in meters] == [
        ("WM-100001-1", "U/100001/2024"),
        ("WM-100001-2", "U/100001/2024"),
    ]

    await readings.publish(
        Event.new(
            events.CONTRACT_TERMINATED,
            {
                "contract_number": "U/100001/2024",
                "client_number": "100001",
                "terminated_on": "2026-03-05",
                "active_contracts_left": 0,
            },
        )
    )
    await eventually(
        lambda: readings.pool.fetchval("SELECT terminated_on IS NOT NULL FROM contracts"),
        "the termination applied",
    )
    after = await problem(await readings.submit(value="1.000", read_on=TODAY), 422)
    assert after["errors"] == [
        {"field": "read_on", "reason": "data jest późniejsza niż rozwiązanie umowy (05.03.2026)"}
    ]


async def test_a_deleted_account_is_unlinked_and_its_readings_stay(
    database: str,
    amqp_url: str,
    bus_prefix: str,
    issuer: Issuer,
) -> None:
    freeze()
    settings = settings_for(database, amqp_url, bus_prefix, issuer.jwks_url)
    async with running_readings(settings, issuer) as readings:
        await readings.conclude()
        sent = await (
            await readings.submit(
                value="5.000", photo=(PNG, "a.png"), headers={"Idempotency-Key": "k"}
            )
        ).json()
        export = await (
            await readings.client.get("/me/export", headers=readings.issuer.customer())
        ).json()
        assert [r["id"] for r in export["readings"]] == [sent["id"]]
        assert export["readings"][0]["submitted_by"] == "customer:100001"
        assert len(export["photos"]) == 1 and "data" not in export["photos"][0]

        deleted = Event.new("auth.account.deleted", {"client_number": "100001"})
        default_catalogue().validate(deleted)
        await readings.publish(deleted)
        await eventually(
            lambda: readings.pool.fetchval("SELECT count(*) = 1 FROM unlinked_clients"),
            "the account unlinked",
        )
        row = (await readings.readings_of("WM-100001-1"))[0]
        assert (
            str(row["id"]),
            str(row["value"]),
            row["submitted_by"],
            row["photo_id"],
            row["idempotency_key"],
        ) == (sent["id"], "5.000", "customer:account-deleted", None, None)
        assert await readings.pool.fetchval("SELECT count(*) FROM photos") == 0
    assert not default_catalogue().knows("auth.account.deleted", 1) or any(
        s.event_type == "auth.account.deleted" for s in SPEC.subscriptions
    )
