"""``Idempotency-Key`` on POST: the handler runs once, a retry gets the first answer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.support.probe_service import GATES, running_probe
from tests.support.tokens import Issuer

KEY = "Idempotency-Key"


@pytest.fixture
async def client(
    database: str, amqp_url: str, bus_prefix: str, issuer: Issuer
) -> AsyncIterator[TestClient]:
    async with running_probe(database, amqp_url, bus_prefix, jwks_url=issuer.jwks_url) as client:
        yield client


def _auth(issuer: Issuer, subject: str = "100001") -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(subject)}"}


async def _rows(database: str, name: str) -> int:
    conn = await asyncpg.connect(database)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM probe_writes WHERE name = $1", name)
        return count
    finally:
        await conn.close()


async def test_same_key_twice_runs_the_handler_once(
    client: TestClient, issuer: Issuer, database: str
) -> None:
    headers = {**_auth(issuer), KEY: str(uuid.uuid4())}
    first = await client.post("/probe/writes", json={"name": "a"}, headers=headers)
    assert first.status == 201
    assert "Idempotent-Replayed" not in first.headers
    first_body = await first.read()

    for _ in range(2):
        again = await client.post("/probe/writes", json={"name": "a"}, headers=headers)
        assert again.status == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert await again.read() == first_body
        assert again.headers["Content-Type"] == first.headers["Content-Type"]
        assert again.headers["Location"] == first.headers["Location"] == "/probe/writes/a/1"
    assert await _rows(database, "a") == 1


async def test_without_a_key_every_post_runs(
    client: TestClient, issuer: Issuer, database: str
) -> None:
    for expected in (1, 2):
        resp = await client.post("/probe/writes", json={"name": "b"}, headers=_auth(issuer))
        assert (await resp.json())["count"] == expected
    assert await _rows(database, "b") == 2


async def test_same_key_with_another_body_is_422(
    client: TestClient, issuer: Issuer, database: str
) -> None:
    headers = {**_auth(issuer), KEY: "k-1"}
    assert (await client.post("/probe/writes", json={"name": "c"}, headers=headers)).status == 201
    resp = await client.post("/probe/writes", json={"name": "d"}, headers=headers)
    assert resp.status == 422
    assert resp.content_type == "application/problem+json"
    body = await resp.json()
    assert body["code"] == "idempotency-key-reused"
    assert body["detail"] == "Klucz Idempotency-Key został już użyty z inną treścią żądania."
    assert body["errors"] == [{"field": KEY, "reason": "klucz użyty z inną treścią"}]
    assert (await _rows(database, "c"), await _rows(database, "d")) == (1, 0)


async def test_duplicate_while_the_first_runs_is_409(
    client: TestClient, issuer: Issuer, database: str
) -> None:
    headers = {**_auth(issuer), KEY: "k-2"}
    assert client.app is not None
    gates = client.app[GATES]
    entered, release = gates.setdefault("e", (asyncio.Event(), asyncio.Event()))
    first = asyncio.create_task(client.post("/probe/gated", json={"name": "e"}, headers=headers))
    await asyncio.wait_for(entered.wait(), timeout=10)  # the first is inside its handler

    duplicate = await client.post("/probe/gated", json={"name": "e"}, headers=headers)
    assert duplicate.status == 409
    assert duplicate.headers["Retry-After"] == "1"
    body = await duplicate.json()
    assert body["code"] == "idempotency-in-progress"
    assert body["detail"] == "Żądanie z tym kluczem jest jeszcze przetwarzane."

    release.set()
    assert (await first).status == 201
    replay = await client.post("/probe/gated", json={"name": "e"}, headers=headers)
    assert replay.status == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert await _rows(database, "e") == 1


async def test_a_5xx_answer_releases_the_key(
    client: TestClient, issuer: Issuer, database: str
) -> None:
    headers = {**_auth(issuer), KEY: "k-3"}
    failed = await client.post("/probe/attempts", json={"name": "f"}, headers=headers)
    assert failed.status == 500
    retried = await client.post("/probe/attempts", json={"name": "f"}, headers=headers)
    assert retried.status == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert await retried.json() == {"attempts": 2}
    replay = await client.post("/probe/attempts", json={"name": "f"}, headers=headers)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert await replay.json() == {"attempts": 2}
    assert await _rows(database, "f") == 2


async def test_a_4xx_answer_is_kept_and_replayed(client: TestClient, issuer: Issuer) -> None:
    headers = {**_auth(issuer), KEY: "k-4"}
    first = await client.post("/probe/writes", json={"name": ""}, headers=headers)
    assert first.status == 422
    again = await client.post("/probe/writes", json={"name": ""}, headers=headers)
    assert again.status == 422
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await again.read() == await first.read()


async def test_a_raised_redirect_is_kept_and_replayed(
    client: TestClient, issuer: Issuer, database: str
) -> None:
    headers = {**_auth(issuer), KEY: "k-5"}
    first = await client.post(
        "/probe/redirect", json={"name": "g"}, headers=headers, allow_redirects=False
    )
    assert first.status == 303
    again = await client.post(
        "/probe/redirect", json={"name": "g"}, headers=headers, allow_redirects=False
    )
    assert again.status == 303
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"] == "/probe/writes/g/1"
    assert await _rows(database, "g") == 1


async def test_principals_do_not_share_keys(
    client: TestClient, issuer: Issuer, database: str
) -> None:
    for subject in ("100001", "100002"):
        headers = {**_auth(issuer, subject), KEY: "same-key"}
        resp = await client.post("/probe/writes", json={"name": "h"}, headers=headers)
        assert resp.status == 201
        assert "Idempotent-Replayed" not in resp.headers
    assert await _rows(database, "h") == 2


@pytest.mark.parametrize("key", ["k" * 201, "", "tab\there"])
async def test_unacceptable_key_is_400(
    client: TestClient, issuer: Issuer, database: str, key: str
) -> None:
    resp = await client.post(
        "/probe/writes", json={"name": "i"}, headers={**_auth(issuer), KEY: key}
    )
    assert resp.status == 400
    assert resp.content_type == "application/problem+json"
    body = await resp.json()
    assert body["code"] == "bad-idempotency-key"
    assert body["detail"] == "Nagłówek Idempotency-Key musi mieć od 1 do 200 znaków."
    assert body["errors"] == [{"field": KEY, "reason": "nieprawidłowy klucz"}]
    assert await _rows(database, "i") == 0


async def test_a_key_of_200_characters_is_accepted(client: TestClient, issuer: Issuer) -> None:
    headers = {**_auth(issuer), KEY: "k" * 200}
    assert (await client.post("/probe/writes", json={"name": "j"}, headers=headers)).status == 201
    again = await client.post("/probe/writes", json={"name": "j"}, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
