"""The auth service under test, started by the one harness of every service
(tests.support.service): the real app on a real port, its own fresh database, a tap on every
event auth publishes, and billing's events put on the bus exactly as billing's relay would.
What is auth's own here: its settings for tests and helpers (accounts, sessions, operators)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aio_pika
import asyncpg
import pyotp
from aio_pika.abc import AbstractRobustConnection
from ebok_auth.app import SPEC, create_app
from ebok_auth.settings import AuthSettings
from ebok_shared.bus import Event, Topology
from ebok_shared.config import Secret

from tests.support.bus import wait_until
from tests.support.service import RunningService, delete_service_bus, running_service
from tests.support.tap import EventTap

# Two keys, as after a rotation: the first seals, both open.
TOTP_KEYS = (
    "t2:"
    + base64.b64encode(b"\x02" * 32).decode()
    + ",t1:"
    + base64.b64encode(b"\x01" * 32).decode()
)
# The audit log's seal keys, also after a rotation: the first seals, both verify.
AUDIT_KEYS = (
    "a2:"
    + base64.b64encode(b"\x12" * 32).decode()
    + ",a1:"
    + base64.b64encode(b"\x11" * 32).decode()
)
PATIENCE = 20.0  # seconds before a wait gives up (a safety net, never an assertion)


def settings_for(database: str, amqp_url: str, prefix: str, **overrides: Any) -> AuthSettings:
    base: dict[str, Any] = {
        "database_url": database,
        "amqp_url": amqp_url,
        "bus_prefix": prefix,
        # Light hashing for speed; production refuses these without allow_weak_hashing.
        "argon2_memory_kib": 1024,
        "argon2_time_cost": 1,
        "allow_weak_hashing": True,
        "trusted_proxies": ("127.0.0.1",),  # tests speak as different IPs via X-Forwarded-For
        "scheduler_interval": 3600.0,  # tests run scheduler passes themselves
        "retry_delays": (0.2,),
        "totp_keys": Secret(TOTP_KEYS),
        "audit_keys": Secret(AUDIT_KEYS),
        "check_answers": True,  # every answer held to auth's contract (ebok_shared.api.auth)
    }
    base.update(overrides)
    return AuthSettings.from_env({}, **base)


async def eventually(probe: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Poll until ``probe`` returns something truthy (asynchronous delivery), or fail."""
    deadline = time.monotonic() + PATIENCE
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


class Auth(RunningService[AuthSettings]):
    """auth under test, with the helpers its tests share."""

    # -- events out ------------------------------------------------------------------------
    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event auth published so far (envelopes as dicts)."""
        return [e.to_dict() for e in self.tap.received]

    def published(self, event_type: str, **match: Any) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.tap.of(event_type, **match)]

    async def event(self, event_type: str, **match: Any) -> dict[str, Any]:
        """The payload of the first published ``event_type`` whose payload has ``match``."""
        found = await eventually(lambda: _async(self.published(event_type, **match)), event_type)
        # event payloads are JSON, typed Any by the tap
        return found[0]["payload"]  # type: ignore[no-any-return]

    async def events_of(self, event_type: str, count: int, **match: Any) -> list[dict[str, Any]]:
        """Wait until ``count`` events of ``event_type`` matching ``match`` were published."""
        await eventually(
            lambda: _async(len(self.published(event_type, **match)) >= count),
            f"{count} × {event_type}",
        )
        return [e["payload"] for e in self.published(event_type, **match)]

    async def eventually_audited(self, audit_type: str) -> None:
        await eventually(
            lambda: self.pool.fetchval("SELECT true FROM audit_log WHERE type = $1", audit_type),
            f"audit entry {audit_type}",
        )

    async def operator(
        self,
        login: str = "anna.nowak",
        roles: tuple[str, ...] = ("customer_service",),
        password: str = "Operator-Haslo-1",
    ) -> dict[str, Any]:
        """An operator (created as an admin would) and a live session's tokens."""
        from ebok_auth.resources import HASHER
        from ebok_auth.use_cases import operators

        created = await operators.create(
            self.pool,
            self.app[HASHER],
            login=login,
            email=f"{login}@mpwik.example",
            roles=list(roles),
            by="system:test",
            password=password,
            settings=AuthSettings.of(self.app),
        )
        status, tokens = await self.call(
            "POST",
            "/operator/sessions",
            json_body={
                "login": login,
                "password": password,
                "totp_code": pyotp.TOTP(created["totp_secret"]).now(),
            },
        )
        assert status == 201, tokens
        return {**tokens, "totp_secret": created["totp_secret"]}

    # -- events in (as billing publishes them) ---------------------------------------------
    async def billing(self, event_type: str, payload: dict[str, Any]) -> Event:
        """Put billing's event on the bus (as billing's relay does) and wait until auth has
        applied it."""
        event = await self.emit(event_type, payload)
        await self.consumed(event)
        return event

    async def client_with_invoice(
        self,
        number: str = "100001",
        *,
        email: str | None = "jan@example.pl",
        invoice: str | None = None,
        gross: str = "108.00",
        contract: bool = True,
    ) -> str:
        """Feed billing's view of a client with one active contract and one invoice; returns
        the invoice number."""
        invoice = invoice or f"{number}26010001"
        await self.billing(
            "billing.client.upserted",
            {
                "client_number": number,
                "name": "Jan Kowalski",
                "kind": "household",
                "nip": None,
                "email": email,
                "address": {
                    "street": "ul. Żelazna 12",
                    "postal_code": "00-001",
                    "city": "Warszawa",
                },
            },
        )
        if contract:
            await self.billing("billing.contract.concluded", contract_payload(number))
        await self.billing(
            "billing.invoice.issued",
            {
                "invoice_number": invoice,
                "client_number": number,
                "issue_date": "2026-01-05",
                "due_date": "2026-01-19",
                "net": "100.00",
                "vat": "8.00",
                "gross": gross,
                "ksef_number": None,
                "delivery": "paper",
                "e_invoice_email": None,
            },
        )
        return invoice

    # -- HTTP ------------------------------------------------------------------------------
    def ip(self, address: str) -> dict[str, str]:
        return {"X-Forwarded-For": address}

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json_body: Any = None,
        ip: str = "198.51.100.1",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        hdrs = {"X-Forwarded-For": ip, **(headers or {})}
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        resp = await self.client.request(method, path, json=json_body, headers=hdrs)
        text = await resp.text()
        body = json.loads(text) if text else None
        if resp.status >= 400:
            assert resp.content_type == "application/problem+json", (resp.status, text)
        return resp.status, body

    async def register(
        self,
        number: str = "100001",
        email: str = "jan@example.pl",
        invoice: str | None = None,
        gross: str = "108,00",
        version: int = 1,
        ip: str = "198.51.100.1",
    ) -> tuple[int, Any]:
        return await self.call(
            "POST",
            "/registrations",
            ip=ip,
            json_body={
                "client_number": number,
                "email": email,
                "invoice_number": invoice or f"{number}26010001",
                "invoice_gross": gross,
                "accepted_regulations_version": version,
            },
        )

    async def activated_account(self, number: str = "100001", email: str = "jan@example.pl") -> str:
        """Register and activate; returns the generated initial password."""
        status, _ = await self.register(number, email)
        assert status == 202
        token = (await self.event("auth.account.registered", client_number=number))[
            "activation_token"
        ]
        status, body = await self.call("POST", "/activations", json_body={"token": token})
        assert status == 200, body
        # auth's answer is JSON (Any): the password is a string
        return body["initial_password"]  # type: ignore[no-any-return]

    async def login(
        self, number: str, password: str, *, ip: str = "198.51.100.1", **extra: Any
    ) -> tuple[int, Any]:
        return await self.call(
            "POST", "/sessions", ip=ip, json_body={"login": number, "password": password, **extra}
        )

    async def customer(
        self, number: str = "100001", password: str = "Kropla-Deszczu-2026!x"
    ) -> dict[str, Any]:
        """An activated account with its own password; returns a live session's tokens."""
        initial = await self.activated_account(number)
        status, first = await self.login(number, initial)
        assert status == 201 and first["password_change_required"], first
        status, body = await self.call(
            "PUT",
            "/me/password",
            token=first["access_token"],
            json_body={"current_password": initial, "new_password": password},
        )
        assert status == 200, body
        # auth's answer is JSON (Any): a JSON object
        return body  # type: ignore[no-any-return]


async def _async(value: Any) -> Any:
    return value


def contract_payload(
    number: str, contract: str | None = None, concluded_on: str = "2024-01-15"
) -> dict[str, Any]:
    return {
        "contract_number": contract or f"U/{number}/2024",
        "client_number": number,
        "concluded_on": concluded_on,
        "supply_address": {"street": "ul. Żelazna 12", "postal_code": "00-001", "city": "Warszawa"},
        "tariff_group": "G1",
        "meter_serials": [f"WM-{number}-1"],
    }


@contextlib.asynccontextmanager
async def running_auth(
    database: str, amqp_url: str, prefix: str, **overrides: Any
) -> AsyncIterator[Auth]:
    settings = settings_for(database, amqp_url, prefix, **overrides)
    async with running_service(create_app, settings, tap=["auth"], service_type=Auth) as auth:
        yield auth


@dataclass
class AuthProcess(Auth):
    """auth run as a real process (tests.auth.process): the same helpers over HTTP, with
    the test's own pool on auth's database (there is no app in this process)."""

    own_pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        assert self.own_pool is not None
        return self.own_pool

    async def consumed(self, event: Event) -> None:
        await wait_until(
            lambda: self.pool.fetchval(
                "SELECT true FROM inbox WHERE consumer = 'auth' AND event_id = $1", event.id
            ),
            f"auth to consume {event.type}",
        )


@contextlib.asynccontextmanager
async def auth_bus(
    settings: AuthSettings,
) -> AsyncIterator[tuple[AbstractRobustConnection, EventTap]]:
    """For auth run as a process: a connection and a tap on every event auth publishes
    (bound before auth starts: its relay publishes mandatory); auth's queues and exchanges
    deleted on the way out."""
    connection = await aio_pika.connect_robust(settings.amqp_url)
    tap = await EventTap.bound(connection, Topology(settings.bus_prefix), ["auth"])
    try:
        yield connection, tap
    finally:
        await tap.close()
        await delete_service_bus(connection, settings, SPEC, extra_producers=["auth"])
        await connection.close()
