"""The auth service under test, started by the one harness of every service
(tests.support.service): the real app on a real port, its own fresh database, a tap on every
event auth publishes, and billing's events put on the bus exactly as billing's relay would.
What is auth's own here: its settings for tests and helpers (accounts, sessions, operators)."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pyotp
from ebok_auth.app import SPEC, create_app
from ebok_auth.settings import AuthSettings
from ebok_shared.bus import Event
from ebok_shared.config import Secret
from ebok_shared.service import ServiceSpec

from tests.support.payloads import client_upserted, contract_concluded, invoice_issued
from tests.support.service import RunningService, running_service, settings_for_test
from tests.support.waiting import eventually

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


def settings_for(database: str, amqp_url: str, prefix: str, **overrides: Any) -> AuthSettings:
    return settings_for_test(
        AuthSettings,
        database,
        amqp_url,
        prefix,
        **{
            # Light hashing for speed; production refuses these without allow_weak_hashing.
            "argon2_memory_kib": 1024,
            "argon2_time_cost": 1,
            "allow_weak_hashing": True,
            # tests speak as different IPs via X-Forwarded-For
            "trusted_proxies": ("127.0.0.1",),
            "scheduler_interval": 3600.0,  # tests run scheduler passes themselves
            "retry_delays": (0.2,),
            "totp_keys": Secret(TOTP_KEYS),
            "audit_keys": Secret(AUDIT_KEYS),
            **overrides,
        },
    )


class Auth(RunningService[AuthSettings]):
    """auth under test, with the helpers its tests share."""

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
        await self.billing("billing.client.upserted", client_upserted(number, email=email))
        if contract:
            await self.billing("billing.contract.concluded", contract_concluded(number))
        await self.billing("billing.invoice.issued", invoice_issued(invoice, number, gross=gross))
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
        token = (await self.tap.payload("auth.account.registered", client_number=number))[
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

    @property
    def spec(self) -> ServiceSpec[Any]:
        return SPEC
