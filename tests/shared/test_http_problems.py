"""Every 4xx/5xx of a service built on the shared app factory is a Polish problem document."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from tests.support import infra
from tests.support.probe_service import running_probe

PROBLEM = "application/problem+json"
VALID = {"client_number": "100001", "amount": 5, "delivery": "paper"}


@pytest.fixture(scope="module")
async def client(services: infra.Services) -> AsyncIterator[TestClient]:
    """One probe for the module: these tests only read, so they can share it."""
    async with (
        infra.fresh_database(services.pg_admin_dsn) as database,
        running_probe(
            database, services.amqp_url, f"t{uuid.uuid4().hex[:10]}.", max_body_bytes=4096
        ) as client,
    ):
        yield client


async def _problem(resp: ClientResponse, status: int) -> dict[str, Any]:
    assert resp.status == status
    assert resp.content_type == PROBLEM
    assert resp.charset == "utf-8"
    body: dict[str, Any] = json.loads(await resp.read())
    assert body["status"] == status
    assert body["type"].startswith("https://ebok.mpwik.com.pl/problemy/")
    assert body["type"].endswith(body["code"])
    assert body["instance"] == resp.url.path
    assert body["correlation_id"] == resp.headers["X-Correlation-Id"]
    return body


async def test_unknown_address_is_404(client: TestClient) -> None:
    body = await _problem(await client.get("/probe/nothing-here"), 404)
    assert body["title"] == "Nie znaleziono"
    assert body["detail"] == "Nie znaleziono żądanego zasobu."
    assert body["code"] == "not-found"


async def test_wrong_method_is_405_with_allow(client: TestClient) -> None:
    resp = await client.delete("/probe/validated")
    body = await _problem(resp, 405)
    assert body["title"] == "Niedozwolona metoda"
    assert body["detail"] == "Ta metoda nie jest obsługiwana dla tego adresu."
    assert resp.headers["Allow"] == "POST"


async def test_unhandled_exception_is_a_500_without_internals(client: TestClient) -> None:
    resp = await client.get("/probe/boom")
    body = await _problem(resp, 500)
    assert body["title"] == "Błąd wewnętrzny"
    assert body["detail"] == "Wystąpił nieoczekiwany błąd. Spróbuj ponownie później."
    assert set(body) == {"type", "title", "status", "detail", "code", "instance", "correlation_id"}
    raw = await resp.text()
    for leak in ("Traceback", "RuntimeError", "secret internals", "hunter2", "probe.py"):
        assert leak not in raw
    # the service still answers afterwards
    assert (await client.get("/health/live")).status == 200


async def test_correlation_id_is_echoed_in_header_and_body(client: TestClient) -> None:
    resp = await client.get("/probe/nothing", headers={"X-Correlation-Id": "portal:abc-123.4"})
    assert resp.headers["X-Correlation-Id"] == "portal:abc-123.4"
    assert (await _problem(resp, 404))["correlation_id"] == "portal:abc-123.4"


@pytest.mark.parametrize("incoming", [None, "", "has space", "x" * 101, "zły-znak"])
async def test_missing_or_unsafe_correlation_id_is_replaced(
    client: TestClient, incoming: str | None
) -> None:
    headers = {} if incoming is None else {"X-Correlation-Id": incoming}
    resp = await client.get("/probe/nothing", headers=headers)
    cid = resp.headers["X-Correlation-Id"]
    assert cid != incoming
    assert uuid.UUID(cid)
    assert (await _problem(resp, 404))["correlation_id"] == cid


async def test_success_carries_the_correlation_id_too(client: TestClient) -> None:
    resp = await client.get("/health/live", headers={"X-Correlation-Id": "c-1"})
    assert resp.status == 200
    assert resp.headers["X-Correlation-Id"] == "c-1"


async def test_body_over_the_limit_is_413(client: TestClient) -> None:
    big = {**VALID, "note": "x" * 5000}
    resp = await client.post("/probe/validated", json=big)
    body = await _problem(resp, 413)
    assert body["title"] == "Zbyt duże żądanie"
    assert body["detail"] == "Treść żądania przekracza dopuszczalny rozmiar."
    assert body["errors"] == [
        {"field": "(body)", "reason": "treść przekracza dopuszczalny rozmiar"}
    ]
    # a body within the limit is read as usual
    assert (await client.post("/probe/validated", json=VALID)).status == 200


@pytest.mark.parametrize(
    ("content_type", "data"),
    [("text/plain", b"{}"), ("application/x-www-form-urlencoded", b"a=1"), (None, b"{}")],
)
async def test_non_json_body_is_415(
    client: TestClient, content_type: str | None, data: bytes
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    resp = await client.post("/probe/validated", data=data, headers=headers)
    body = await _problem(resp, 415)
    assert body["title"] == "Nieobsługiwany typ treści"
    assert body["detail"] == "Treść żądania musi być w formacie JSON (application/json)."
    assert body["errors"] == [{"field": "Content-Type", "reason": "oczekiwano application/json"}]


async def test_malformed_json_is_400_in_polish(client: TestClient) -> None:
    resp = await client.post(
        "/probe/validated",
        data=b'{"amount": 5,\n "delivery": }',
        headers={"Content-Type": "application/json"},
    )
    body = await _problem(resp, 400)
    assert body["title"] == "Nieprawidłowe żądanie"
    assert body["code"] == "malformed-json"
    assert body["detail"] == "Treść żądania nie jest poprawnym JSON-em (wiersz 2, kolumna 14)."
    assert body["errors"] == [
        {"field": "(body)", "reason": "niepoprawny JSON (wiersz 2, kolumna 14)"}
    ]


@pytest.mark.parametrize(
    "data", [b'{"amount": NaN}', b'{"amount": Infinity}', b"\xff\xfe\x00", b""]
)
async def test_not_quite_json_is_400(client: TestClient, data: bytes) -> None:
    resp = await client.post(
        "/probe/validated", data=data, headers={"Content-Type": "application/json"}
    )
    body = await _problem(resp, 400)
    assert body["code"] == "malformed-json"
    assert body["detail"].startswith("Treść żądania nie jest poprawnym JSON-em")
    assert "Expecting" not in body["detail"] and "JSON" in body["detail"]


async def test_validation_failure_is_422(client: TestClient) -> None:
    resp = await client.post("/probe/validated", json={**VALID, "amount": "5"})
    body = await _problem(resp, 422)
    assert body["title"] == "Nieprawidłowe dane"
    assert body["code"] == "validation"
    assert body["errors"] == [
        {"field": "amount", "reason": "nieprawidłowy typ (oczekiwano: liczba całkowita)"}
    ]
    assert body["detail"] == (
        "Popraw wskazane pola: amount: nieprawidłowy typ (oczekiwano: liczba całkowita)"
    )
