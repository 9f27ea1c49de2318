"""The OpenAPI document tells the truth about request bodies: the gateway's copies of the
services' JSON Schemas are the schemas the services really validate with, and every route
that takes a body documents one."""

from __future__ import annotations

from typing import Any

from ebok_auth import schemas as auth
from ebok_billing import schemas as billing
from ebok_correspondence import documents as correspondence
from ebok_gateway import openapi
from ebok_gateway.http_operator import ITEM_SCHEMA, SECTION_SCHEMA
from ebok_gateway.request_bodies import BODIES
from ebok_gateway.routes import PREFIX, ROUTES
from ebok_readings import schemas as readings

SERVICES_OWN: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/registrations"): auth.REGISTRATION,
    ("POST", "/activations"): auth.ACTIVATION,
    ("POST", "/sessions"): auth.LOGIN,
    ("POST", "/sessions/refresh"): auth.REFRESH,
    ("POST", "/operator/sessions"): auth.OPERATOR_LOGIN_BODY,
    ("POST", "/password-resets"): auth.RESET_REQUEST,
    ("POST", "/password-resets/confirm"): auth.RESET_CONFIRM,
    ("POST", "/email-changes/confirm"): auth.EMAIL_CONFIRM,
    ("POST", "/e-invoice/confirmations"): billing.CONFIRM_SCHEMA,
    ("PUT", "/me/password"): auth.PASSWORD_CHANGE,
    ("POST", "/me/regulations/acceptances"): auth.ACCEPTANCE,
    ("POST", "/me/email-change"): auth.EMAIL_CHANGE,
    ("DELETE", "/me"): auth.DELETION,
    ("POST", "/me/totp/activation"): auth.TOTP_CONFIRM,
    ("POST", "/me/totp/removal"): auth.TOTP_REMOVAL,
    ("POST", "/me/meters/{serial}/readings"): readings.READING_SCHEMA,
    ("POST", "/me/garden-meter-requests"): readings.GARDEN_SCHEMA,
    ("PUT", "/me/e-invoice"): billing.E_INVOICE_SCHEMA,
    ("POST", "/me/payment-orders"): billing.PAYMENT_ORDER_SCHEMA,
    ("POST", "/me/correspondence"): correspondence.KIND_SCHEMA,
    ("PUT", "/operator/portal-settings/sections/{section}"): SECTION_SCHEMA,
    ("PUT", "/operator/portal-settings/sections/{section}/items/{item_id}"): ITEM_SCHEMA,
}


def test_documented_bodies_are_the_services_own_schemas() -> None:
    assert set(BODIES) == set(SERVICES_OWN)
    for key, schema in SERVICES_OWN.items():
        assert BODIES[key] == schema, key


def test_every_route_with_a_body_documents_it_and_its_success_status() -> None:
    doc = openapi.document()
    for route in ROUTES:
        operation = doc["paths"][PREFIX + route.path][route.method.lower()]
        assert str(route.ok) in operation["responses"], route
        if (route.method, route.path) in BODIES:
            body = operation["requestBody"]
            assert body["required"] is True
            assert (
                body["content"]["application/json"]["schema"] == BODIES[(route.method, route.path)]
            )
    registration = doc["paths"][PREFIX + "/registrations"]["post"]
    assert set(registration["responses"]) == {"202", "default"}
    logout = doc["paths"][PREFIX + "/sessions/current"]["delete"]
    assert "content" not in logout["responses"]["204"]
