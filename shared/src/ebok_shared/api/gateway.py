"""The gateway's own routes: the customer's dashboard and data export (put together from the
services' answers), the portal's section states, and the operators' portal settings."""

from __future__ import annotations

from typing import Any

from . import auth, billing, correspondence, readings
from .types import (
    ANY_OBJECT,
    DATE_TIME,
    STRING,
    Operation,
    array,
    choice,
    items_of,
    nullable,
    shape,
)

MODES = ("on", "read_only", "off", "hidden")

PORTAL_SECTION = {
    "type": "object",
    "required": ["mode"],
    "additionalProperties": False,
    "properties": {
        "mode": {"enum": list(MODES)},
        "message": {"type": ["string", "null"], "maxLength": 500},
    },
}
PORTAL_ITEM = {
    "type": "object",
    "required": ["hidden"],
    "additionalProperties": False,
    "properties": {"hidden": {"type": "boolean"}},
}


def part(data: dict[str, Any]) -> dict[str, Any]:
    """One part of the dashboard: the service's answer, or why it is not there."""
    return {
        "oneOf": [
            shape(status={"const": "ok"}, data=data),
            shape(
                status={"enum": ["error", "unavailable", "suspended"]},
                detail=STRING,
            ),
        ]
    }


_open_cases = correspondence.OPERATIONS[("GET", "/me/correspondence")].answer
_garden = readings.OPERATIONS[("GET", "/me/garden-meter-requests")].answer
_meters = readings.OPERATIONS[("GET", "/me/meters")].answer
_contracts = billing.OPERATIONS[("GET", "/me/contracts")].answer
_invoices = billing.OPERATIONS[("GET", "/me/invoices")].answer
assert _open_cases and _garden and _meters and _contracts and _invoices

# A section operators hid is left out of the dashboard; the profile is always there, the
# consumption only when asked for (``include``).
DASHBOARD = shape(
    ["profile"],
    profile=part(auth.ME),
    contracts=part(_contracts),
    meters=part(_meters),
    balance=part(billing.BALANCE),
    last_invoices=part(_invoices),
    e_invoice=part(billing.E_INVOICE),
    open_cases=part(_open_cases),
    garden_meter_requests=part(_garden),
    consumption=part(readings.CONSUMPTION),
)
INCLUDE = choice(
    "include",
    ("consumption",),
    "Dodatkowa część pulpitu: consumption — zużycie wody z miesięcy (jak /me/consumption),"
    " np. do wykresu na pulpicie, w tym samym wywołaniu.",
)
EXPORT = shape(
    client_number=STRING,
    generated_at=DATE_TIME,
    services=shape(
        auth=ANY_OBJECT,
        billing=ANY_OBJECT,
        readings=ANY_OBJECT,
        correspondence=ANY_OBJECT,
        notifier=ANY_OBJECT,
    ),
)
_SECTION = shape(section=STRING, name=STRING, mode={"enum": list(MODES)}, message=nullable(STRING))
SECTIONS = shape(sections=array(_SECTION))
PORTAL_SETTINGS = shape(
    sections=array(_SECTION),
    hidden_items=array(shape(section=STRING, item_id=STRING)),
)
HISTORY = items_of(shape(change=ANY_OBJECT, changed_by=STRING, changed_at=DATE_TIME))
SECTION_SET = shape(section=STRING, mode={"enum": list(MODES)}, message=nullable(STRING))
ITEM_SET = shape(section=STRING, item_id=STRING, hidden={"type": "boolean"})

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/me/dashboard"): Operation(DASHBOARD, query=(INCLUDE,)),
    ("GET", "/me/export"): Operation(EXPORT, errors=(503,)),
    ("GET", "/me/export/archive"): Operation(errors=(503,)),
    ("GET", "/openapi.json"): Operation(
        shape(openapi={"const": "3.1.0"}, info=ANY_OBJECT, paths=ANY_OBJECT, components=ANY_OBJECT)
    ),
    ("GET", "/portal/sections"): Operation(SECTIONS),
    ("GET", "/operator/portal-settings"): Operation(PORTAL_SETTINGS),
    ("GET", "/operator/portal-settings/history"): Operation(HISTORY),
    ("GET", "/operator/portal-settings/hidden-items"): Operation(
        shape(items=array(shape(section=STRING, item_id=STRING)))
    ),
    ("PUT", "/operator/portal-settings/sections/{section}"): Operation(
        SECTION_SET, PORTAL_SECTION, errors=(404,)
    ),
    ("PUT", "/operator/portal-settings/sections/{section}/items/{item_id}"): Operation(
        ITEM_SET, PORTAL_ITEM, errors=(404,)
    ),
}
