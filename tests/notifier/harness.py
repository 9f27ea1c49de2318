"""The notifier as its tests run it (tests.support.service): the real app against the test's
own database, broker prefix, SMTP server and token issuer; a stand-in billing that
serves invoice PDFs; events put on the broker the way the outbox relay puts them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestServer
from ebok_notifier.app import create_app
from ebok_notifier.settings import NotifierSettings
from ebok_shared.bus import Event
from ebok_shared.config import Secret

from tests.support.payloads import invoice_issued
from tests.support.service import (
    RunningService,
    running_service,
    settings_for_test,
)
from tests.support.smtp import SmtpServer

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
BASE_URL = "https://ebok.example.pl"
INVOICE = "billing.invoice.issued"

SERVICE_SECRET = "notifier-secret-0123456789abcdef0123"


def settings_for(
    database: str, amqp_url: str, prefix: str, smtp: SmtpServer, **overrides: Any
) -> NotifierSettings:
    """Short delays everywhere, so retries and outages take a second, not an hour."""
    values: dict[str, Any] = {
        "smtp_host": smtp.host,
        "smtp_port": smtp.port,
        "smtp_timeout": 5.0,
        "smtp_pool_size": 2,
        "sender_batch_size": 8,
        "sender_poll_interval": 0.1,
        "sender_reclaim_interval": 0.5,
        "delivery_retry_base": 0.1,
        "delivery_retry_max": 0.4,
        "delivery_deadline": 120.0,
        "campaign_rate": 1000.0,
        "campaign_chunk_size": 50,
        "public_base_url": BASE_URL,
        "service_client_secret": Secret(SERVICE_SECRET),
        **overrides,
    }
    return settings_for_test(NotifierSettings, database, amqp_url, prefix, **values)


class Notifier(RunningService[NotifierSettings]):
    async def deliveries(self, **where: Any) -> list[asyncpg.Record]:
        clauses = " AND ".join(f"{k} = ${i}" for i, k in enumerate(where, start=1)) or "true"
        return await self.pool.fetch(
            f"SELECT * FROM deliveries WHERE {clauses} ORDER BY id", *where.values()
        )

    async def delivery_for(self, event: Event) -> asyncpg.Record | None:
        rows = await self.deliveries(event_id=event.id)
        return rows[0] if rows else None

    async def has_status(self, event: Event, status: str) -> bool:
        """Whether the (one) e-mail of ``event`` has reached ``status``."""
        row = await self.delivery_for(event)
        return row is not None and row["status"] == status

    async def sent(self, event: Event) -> bool:
        return await self.has_status(event, "sent")


running_notifier = partial(running_service, create_app, service_type=Notifier)


@dataclass
class Billing:
    """Stand-in for billing's internal API: serves a PDF per invoice number."""

    url: str = ""
    requests: list[str] = field(default_factory=list)
    fail_next: int = 0  # answer 503 to this many requests first
    token: str = "service-token-1"
    tokens_issued: int = 0

    async def service_token(self, request: web.Request) -> web.Response:
        """Stand-in for auth's POST /service-tokens (client credentials)."""
        body = await request.json()
        if (body["client_id"], body["client_secret"]) != ("notifier", SERVICE_SECRET):
            return web.Response(status=401)
        self.tokens_issued += 1
        return web.json_response({"access_token": self.token, "expires_in": 300})

    async def pdf(self, request: web.Request) -> web.StreamResponse:
        number = request.match_info["number"]
        self.requests.append(number)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.Response(status=401)
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=503)
        return web.Response(body=PDF + number.encode(), content_type="application/pdf")


@asynccontextmanager
async def running_billing() -> AsyncIterator[Billing]:
    billing = Billing()
    app = web.Application()
    app.router.add_get("/internal/invoices/{number}/pdf", billing.pdf)
    app.router.add_post("/service-tokens", billing.service_token)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    billing.url = str(server.make_url("")).rstrip("/")
    try:
        yield billing
    finally:
        await server.close()


def invoice_payload(n: int = 1, *, email: str | None = "jan@example.pl") -> dict[str, Any]:
    """Invoice ``n`` of client 100001, sent to ``email`` (on paper without one)."""
    return invoice_issued(f"1000012601{n:04d}", e_invoice_email=email)


def unique_email(prefix: str = "klient") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:8]}@example.pl"


async def seed_recipients(
    pool: asyncpg.Pool, count: int, *, status: str = "active", start: int = 100000
) -> list[tuple[str, str]]:
    """Users in the notifier's projection, as auth's activation events would leave them."""
    numbers = [f"{start + i:06d}" for i in range(count)]
    emails = [f"u{n}@example.pl" for n in numbers]
    await pool.execute(
        """
        INSERT INTO recipients (client_number, email, status, activated_at, last_event_at)
        SELECT n, e, $3, now() - interval '1 day', now() - interval '1 day'
          FROM unnest($1::text[], $2::text[]) AS t(n, e)
        """,
        numbers,
        emails,
        status,
    )
    return list(zip(numbers, emails, strict=True))


def environment(settings: dict[str, Any]) -> dict[str, str]:
    """``EBOK_*`` variables for a notifier process, from settings field values."""
    env = {}
    for name, value in settings.items():
        if isinstance(value, tuple):
            value = ",".join(str(v) for v in value)
        env[f"EBOK_{name.upper()}"] = str(value)
    return env
