"""Issue 14.7: the GDPR export as one archive — every service's part as JSON, the files the
customer sent beside it (meter photos, correspondence attachments), a manifest saying what
each entry is. A gateway over real PostgreSQL, RabbitMQ and Redis before stand-in services
answering as the real ones (their exports are tested in their own suites)."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from ebok_gateway.app import create_app

from tests.gateway.conftest import _upstream, gateway_settings
from tests.support.apps import serve
from tests.support.tokens import running_issuer

CLIENT = "123456"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.4\n%%EOF\n"
PHOTO_ID = str(uuid.uuid4())
CASE_ID, ATTACHMENT_ID = str(uuid.uuid4()), str(uuid.uuid4())

READINGS: dict[str, Any] = {
    "service": "readings",
    "photos": [
        {
            "id": PHOTO_ID,
            "content_type": "image/png",
            "size": len(PNG),
            "uploaded_at": "2026-03-01T10:00:00+00:00",
            "path": f"/me/photos/{PHOTO_ID}",
        }
    ],
}
CORRESPONDENCE = {
    "service": "correspondence",
    "cases": [
        {
            "id": CASE_ID,
            "number": "EBOK/2026/000007",
            "attachments": [
                {
                    "id": ATTACHMENT_ID,
                    "filename": "protokół odczytu.pdf",
                    "content_type": "application/pdf",
                    "size": len(PDF),
                    "path": f"/me/correspondence/{CASE_ID}/attachments/{ATTACHMENT_ID}",
                }
            ],
        }
    ],
}


def _json(data: Any) -> Any:
    async def handler(request: web.Request) -> web.Response:
        assert request.headers["Authorization"].startswith("Bearer ")
        return web.json_response(data)

    return handler


def _bytes(body: bytes, content_type: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        assert request.headers["Authorization"].startswith("Bearer ")
        return web.Response(body=body, content_type=content_type)

    return handler


async def _missing(_: web.Request) -> web.Response:
    return web.json_response(
        {"status": 404, "detail": "Nie znaleziono zdjęcia.", "code": "photo-not-found"},
        status=404,
        content_type="application/problem+json",
    )


@pytest.fixture
async def gateway(database: str, amqp_url: str, bus_prefix: str) -> AsyncIterator[Any]:
    async with AsyncExitStack() as exits, running_issuer() as issuer:
        urls = {}
        services = {
            "auth": {"/me/data": _json({"client_number": CLIENT})},
            "billing": {"/me/export": _json({"payments": [], "invoices": []})},
            "readings": {
                "/me/export": _json(READINGS),
                f"/me/photos/{PHOTO_ID}": _bytes(PNG, "image/png"),
                "/me/photos/{other}": _missing,
            },
            "correspondence": {
                "/me/export": _json(CORRESPONDENCE),
                f"/me/correspondence/{CASE_ID}/attachments/{ATTACHMENT_ID}": _bytes(
                    PDF, "application/pdf"
                ),
            },
            "notifier": {"/me/export": _json({"deliveries": []})},
        }
        for name, routes in services.items():
            server = await _upstream(routes, Counter())
            exits.push_async_callback(server.close)
            urls[f"{name}_url"] = str(server.make_url("")).rstrip("/")
        settings = gateway_settings(issuer, database, amqp_url, bus_prefix, **urls)
        client: TestClient = await exits.enter_async_context(serve(create_app(settings)))
        yield client, issuer


async def test_the_export_is_one_archive_of_data_files_and_a_manifest(gateway: Any) -> None:
    client, issuer = gateway
    headers = issuer.customer(CLIENT, restrictions=["regulations"])
    resp = await client.get("/api/v1/me/export/archive", headers=headers)  # a GDPR right
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/zip"
    assert f'filename="ebok-dane-{CLIENT}.zip"' in resp.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(await resp.read()))
    names = set(archive.namelist())
    photo = f"pliki/zdjecia/{PHOTO_ID}.png"
    attachment = f"pliki/korespondencja/EBOK-2026-000007/{ATTACHMENT_ID[:8]}-protok_odczytu.pdf"
    assert names == {
        "manifest.json",
        *(f"dane/{s}.json" for s in ("auth", "billing", "readings", "correspondence", "notifier")),
        photo,
        attachment,
    }
    assert archive.read(photo) == PNG and archive.read(attachment) == PDF
    assert json.loads(archive.read("dane/readings.json")) == READINGS

    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["client_number"] == CLIENT
    entries = {e["path"]: e for e in manifest["entries"]}
    assert set(entries) == names - {"manifest.json"}
    for name, entry in entries.items():  # each entry says what it is, and is what it says
        assert entry["description"], name
        assert entry["sha256"] == hashlib.sha256(archive.read(name)).hexdigest(), name
    assert entries[photo]["kind"] == "file" and entries[photo]["content_type"] == "image/png"
    assert "EBOK/2026/000007" in entries[attachment]["description"]
    assert entries["dane/billing.json"]["kind"] == "data"
    assert "noty odsetkowe" in entries["dane/billing.json"]["description"]

    # The JSON export names the archive.
    document = await (await client.get("/api/v1/me/export", headers=headers)).json()
    assert document["archive"] == "/api/v1/me/export/archive"


async def test_a_file_that_cannot_be_fetched_makes_the_export_fail_not_shrink(
    gateway: Any,
) -> None:
    client, issuer = gateway
    READINGS["photos"].append(
        {**READINGS["photos"][0], "id": "x", "path": f"/me/photos/{uuid.uuid4()}"}
    )
    try:
        headers = issuer.customer(CLIENT)
        resp = await client.get("/api/v1/me/export/archive", headers=headers)
        assert resp.status == 503 and resp.content_type == "application/problem+json"
        problem = await resp.json()
        assert problem["code"] == "export-incomplete" and problem["services"] == ["readings"]
    finally:
        READINGS["photos"].pop()
