"""The correspondence service as its tests run it (tests.support.service): the real app
against the test's own database and broker prefix, with a stand-in token issuer; billing's
events put on the broker the way billing's relay puts them; the events this service
publishes tapped off the back office's queue, where they really arrive."""

from __future__ import annotations

import asyncio
import json
import uuid
from functools import partial
from typing import Any

import aiohttp
from ebok_correspondence.app import create_app
from ebok_correspondence.settings import CorrespondenceSettings

from tests.support.payloads import contract_concluded, invoice_issued
from tests.support.service import RunningService, running_service, settings_for_test
from tests.support.waiting import eventually

# The smallest files each accepted format can be recognised by (and one that is none of them).
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48
MiB = 1024 * 1024


def documents() -> dict[str, dict[str, Any]]:
    """One valid document of each kind (reklamacja: on invoice 10000126010001 of 100001)."""
    return {
        "failure_report": {
            "kind": "failure_report",
            "place": "ul. Żelazna 12, przed klatką B",
            "description": "Z jezdni wypływa woda, tworzy się zapadlisko.",
            "since": "2026-01-10T06:30",
            "contact_phone": "+48 600 100 200",
        },
        "water_quality_complaint": {
            "kind": "water_quality_complaint",
            "place": "ul. Prosta 5 m. 2, kuchnia",
            "problems": ["colour", "smell"],
            "description": "Woda jest brunatna i czuć stęchliznę.",
            "since": "2026-01-09",
        },
        "data_change": {
            "kind": "data_change",
            "changes": {
                "correspondence_address": {
                    "street": "ul. Prosta 5 m. 2",
                    "postal_code": "00-850",
                    "city": "Warszawa",
                },
                "phone": "600 100 200",
            },
        },
        "reklamacja": {
            "kind": "reklamacja",
            "invoice_number": "10000126010001",
            "reason": "Faktura obejmuje okres, w którym lokal był pusty.",
        },
        "letter": {
            "kind": "letter",
            "subject": "Prośba o duplikat umowy",
            "content": "Proszę o przesłanie duplikatu umowy nr U/100001/2024.",
        },
    }


settings_for = partial(settings_for_test, CorrespondenceSettings)


def form(
    document: dict[str, Any] | None,
    # an empty tuple as the immutable default of a list parameter
    files: list[tuple[str, bytes, str]] = (),  # type: ignore[assignment]
) -> aiohttp.FormData:
    """A multipart form: the document part, then ``(filename, bytes, declared type)`` files."""
    data = aiohttp.FormData(quote_fields=False)  # names as browsers send them: UTF-8, unquoted
    if document is not None:
        data.add_field("document", json.dumps(document), content_type="application/json")
    for filename, content, content_type in files:
        data.add_field("attachments", content, filename=filename, content_type=content_type)
    return data


class Correspondence(RunningService[CorrespondenceSettings]):
    async def submit(
        self,
        document: dict[str, Any] | None = None,
        *,
        client_number: str = "100001",
        files: list[tuple[str, bytes, str]] | None = None,
        key: str | None = None,
        expect: int | None = 201,
    ) -> dict[str, Any]:
        """POST /me/correspondence: JSON without files, a multipart form with them."""
        headers = self.issuer.customer(client_number)
        if key is not None:
            headers["Idempotency-Key"] = key
        if files is None:
            resp = await self.client.post("/me/correspondence", json=document, headers=headers)
        else:
            resp = await self.client.post(
                "/me/correspondence", data=form(document, files), headers=headers
            )
        body = await resp.json(content_type=None)
        if expect is not None:
            assert resp.status == expect, body
        body["_status"] = resp.status
        body["_replayed"] = resp.headers.get("Idempotent-Replayed")
        return body

    async def get(self, path: str, headers: dict[str, str], status: int = 200) -> Any:
        resp = await self.client.get(path, headers=headers)
        body = await resp.json(content_type=None)
        assert resp.status == status, body
        return body

    async def act(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        operator_id: str = "op-1",
        status: int = 200,
    ) -> Any:
        resp = await self.client.request(
            method, path, json=body, headers=self.issuer.operator(operator_id)
        )
        answer = await resp.json(content_type=None)
        assert resp.status == status, answer
        return answer

    # -- billing's events, as billing's relay publishes them --------------------------------------

    async def give_invoice(self, invoice_number: str, client_number: str = "100001") -> None:
        """billing.invoice.issued, and wait until this service has taken it in."""
        await self.emit("billing.invoice.issued", invoice_issued(invoice_number, client_number))

        async def known() -> bool:
            return bool(
                await self.pool.fetchval(
                    "SELECT true FROM known_invoices"
                    " WHERE invoice_number = $1 AND client_number = $2",
                    invoice_number,
                    client_number,
                )
            )

        await eventually(known, f"invoice {invoice_number} known")

    async def give_meter(self, serial: str, client_number: str = "100001") -> None:
        await self.emit(
            "billing.contract.concluded",
            contract_concluded(
                client_number, contract_number=unique_contract(client_number), serials=[serial]
            ),
        )

        async def known() -> bool:
            return bool(
                await self.pool.fetchval(
                    "SELECT true FROM known_meters WHERE serial = $1 AND client_number = $2",
                    serial,
                    client_number,
                )
            )

        await eventually(known, f"meter {serial} known")


def unique_contract(client_number: str) -> str:
    return f"U/{client_number}/{uuid.uuid4().hex[:4].upper()}"


# The events it publishes are tapped off the back office's queue, where they really arrive.
running_correspondence = partial(
    running_service,
    create_app,
    tap_queue=lambda topology: topology.backoffice_queue("correspondence"),
    service_type=Correspondence,
)


async def gather(*jobs: Any) -> list[Any]:
    return list(await asyncio.gather(*jobs))
