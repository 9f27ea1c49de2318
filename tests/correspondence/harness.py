"""The correspondence service as its tests run it: the real app in this process on a real
port, against the test's own database and broker prefix, with a stand-in token issuer;
billing's events put on the broker the way billing's relay puts them; the events this
service publishes read off the back office's queue, where they really arrive."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import aiohttp
import asyncpg
from aio_pika.abc import AbstractRobustConnection
from aiohttp.test_utils import TestClient
from ebok_correspondence.app import create_app
from ebok_correspondence.settings import CorrespondenceSettings
from ebok_shared.bus import Event, RetryPolicy, Topology
from ebok_shared.bus.catalogue import default_catalogue
from ebok_shared.service import POOL

from tests.support.apps import serve
from tests.support.bus import consumer_queues, delete_bus_objects, wait_until
from tests.support.events import publish_event
from tests.support.tokens import Issuer

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


def settings_for(
    database: str, amqp_url: str, prefix: str, **overrides: Any
) -> CorrespondenceSettings:
    values: dict[str, Any] = {
        "database_url": database,
        "amqp_url": amqp_url,
        "bus_prefix": prefix,
        "jwks_url": "http://127.0.0.1:9/none",
        "retry_delays": (0.2, 0.4),
        "shutdown_timeout": 5.0,
        **overrides,
    }
    return CorrespondenceSettings.from_env({}, **values)


def form(
    document: dict[str, Any] | None,
    files: list[tuple[str, bytes, str]] = (),  # type: ignore[assignment]
) -> aiohttp.FormData:
    """A multipart form: the document part, then ``(filename, bytes, declared type)`` files."""
    data = aiohttp.FormData(quote_fields=False)  # names as browsers send them: UTF-8, unquoted
    if document is not None:
        data.add_field("document", json.dumps(document), content_type="application/json")
    for filename, content, content_type in files:
        data.add_field("attachments", content, filename=filename, content_type=content_type)
    return data


@dataclass
class Correspondence:
    client: TestClient
    settings: CorrespondenceSettings
    connection: AbstractRobustConnection
    issuer: Issuer
    seen: list[Event] = field(default_factory=list)  # events taken off the back office queue

    @property
    def pool(self) -> asyncpg.Pool:
        return self.client.app[POOL]  # type: ignore[union-attr]

    @property
    def topology(self) -> Topology:
        return Topology(self.settings.bus_prefix)

    # -- callers --------------------------------------------------------------------------------

    def customer(self, client_number: str = "100001", **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.token(client_number, **claims)}"}

    def operator(self, operator_id: str = "op-1") -> dict[str, str]:
        token = self.issuer.token(operator_id, kind="operator", roles=["operator"])
        return {"Authorization": f"Bearer {token}"}

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
        headers = self.customer(client_number)
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
            method, path, json=body, headers=self.operator(operator_id)
        )
        answer = await resp.json(content_type=None)
        assert resp.status == status, answer
        return answer

    # -- billing's events, as billing's relay publishes them --------------------------------------

    async def publish(self, event_type: str, payload: dict[str, Any]) -> Event:
        return await self.publish_event(Event.new(event_type, payload))

    async def publish_event(self, event: Event) -> Event:
        return await publish_event(self.connection, self.settings.bus_prefix, event)

    async def give_invoice(self, invoice_number: str, client_number: str = "100001") -> None:
        """billing.invoice.issued, and wait until this service has taken it in."""
        await self.publish("billing.invoice.issued", invoice_payload(invoice_number, client_number))

        async def known() -> bool:
            return bool(
                await self.pool.fetchval(
                    "SELECT true FROM known_invoices"
                    " WHERE invoice_number = $1 AND client_number = $2",
                    invoice_number,
                    client_number,
                )
            )

        await wait_until(known, f"invoice {invoice_number} known")

    async def give_meter(self, serial: str, client_number: str = "100001") -> None:
        await self.publish("billing.contract.concluded", contract_payload(client_number, [serial]))

        async def known() -> bool:
            return bool(
                await self.pool.fetchval(
                    "SELECT true FROM known_meters WHERE serial = $1 AND client_number = $2",
                    serial,
                    client_number,
                )
            )

        await wait_until(known, f"meter {serial} known")

    # -- what this service published --------------------------------------------------------------

    async def _drain(self) -> None:
        channel = await self.connection.channel()
        try:
            queue = await channel.get_queue(
                self.topology.backoffice_queue("correspondence"), ensure=False
            )
            while (message := await queue.get(no_ack=True, fail=False)) is not None:
                self.seen.append(default_catalogue().parse(message.body))  # validates it
        finally:
            await channel.close()

    async def events(self, event_type: str, count: int = 1, **payload: Any) -> list[Event]:
        """The first ``count`` events of this type (whose payload has these values) that
        reached the back office's queue; waits for them."""

        def matching() -> list[Event]:
            return [
                e
                for e in self.seen
                if e.type == event_type and all(e.payload.get(k) == v for k, v in payload.items())
            ]

        async def arrived() -> bool:
            await self._drain()
            return len(matching()) >= count

        await wait_until(arrived, f"{count} × {event_type} {payload}")
        return matching()[:count]

    async def outbox_empty(self) -> None:
        async def empty() -> bool:
            return await self.pool.fetchval("SELECT count(*) FROM outbox") == 0

        await wait_until(empty, "the outbox published")


def invoice_payload(invoice_number: str, client_number: str) -> dict[str, Any]:
    return {
        "invoice_number": invoice_number,
        "client_number": client_number,
        "issue_date": "2026-01-05",
        "due_date": "2026-01-19",
        "net": "100.00",
        "vat": "8.00",
        "gross": "108.00",
        "ksef_number": None,
        "delivery": "paper",
        "e_invoice_email": None,
    }


def contract_payload(client_number: str, serials: list[str]) -> dict[str, Any]:
    return {
        "contract_number": f"U/{client_number}/{uuid.uuid4().hex[:4].upper()}",
        "client_number": client_number,
        "concluded_on": "2024-01-15",
        "supply_address": {"street": "ul. Żelazna 12", "postal_code": "00-001", "city": "Warszawa"},
        "tariff_group": "G1",
        "meter_serials": serials,
    }


@asynccontextmanager
async def running_correspondence(
    settings: CorrespondenceSettings, issuer: Issuer
) -> AsyncIterator[Correspondence]:
    settings = dataclasses.replace(settings, jwks_url=issuer.jwks_url)
    connection = await aio_pika.connect_robust(settings.amqp_url)
    topology = Topology(settings.bus_prefix)
    try:
        async with serve(create_app(settings)) as client:
            yield Correspondence(client, settings, connection, issuer)
    finally:
        queues = [
            *consumer_queues(topology, "correspondence", RetryPolicy(delays=settings.retry_delays)),
            topology.backoffice_queue("correspondence"),
        ]
        exchanges = [topology.exchange(p) for p in ("correspondence", "billing", "auth")]
        await delete_bus_objects(connection, queues, exchanges)
        await connection.close()


async def gather(*jobs: Any) -> list[Any]:
    return list(await asyncio.gather(*jobs))
