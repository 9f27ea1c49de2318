"""Nothing lost, nothing twice — for the whole system, in the Jepsen way.

A whole stack of real processes (gateway, five services, SMTP sink) runs on a PostgreSQL
cluster and a RabbitMQ node of this test's own (``tests.system.infra``), with TCP fault
proxies between readings and PostgreSQL, correspondence and RabbitMQ, and the notifier and the
SMTP sink. Readings and the notifier run split into their roles (``serve --role``: api,
worker, relay: three processes each), so the nemesis can kill a relay or a consumer alone;
billing's own run is on (it records every accepted reading; with no tariff in the test data
it bills none: an invoice up to today would make readings refuse the day's next reading).

Concurrent simulated customers issue operations with unique ids through the gateway, retrying
an unknown outcome with the same key: registrations → activation e-mail; meter readings with
an Idempotency-Key → a reading row, billing's run's record of it (by the reading's id), the
gateway's kept dashboard showing it (customers look at their dashboard now and then, so the
gateway keeps views to drop); correspondence cases, some with a photo → case, stored file and
confirmation e-mail; e-invoice requests → confirmation e-mail, its link followed → acceptance
e-mail. An operator blocks two customers (→ blocked, audited once, a notice, their old token
refused) and publishes new terms once (→ a version, audited once, a campaign: one e-mail to
every active user). Meanwhile the nemesis works through its seeded schedule
(``tests.system.nemesis``). Then everything is healed and drained, and the checker
(``tests.system.checker``) compares the history with the effect stores. Any lost, unexpected
or duplicated effect fails the test; the counts are printed, and the history is kept in
var/system/.

``EBOK_SYSTEM_LONG=1`` runs the catalogue of faults four times over, each fault lasting up
to 30 s instead of 2.5 s (about 25 minutes, more on a loaded machine); ``EBOK_SYSTEM_SEED``
picks another seed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import os
import random
import struct
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import asyncpg
import pytest
from ebok_notifier.render import PAGES

from deploy.local import LocalStack
from deploy.plan import REPO, SERVICES, Component, StackConfig
from deploy.processes import Output
from tests.e2e.client import Api, Reply
from tests.e2e.data import Customer, load_customers
from tests.e2e.journeys import CUSTOMER_PASSWORD, Session, log_in, onboard, operator_session
from tests.e2e.stack import Stack, running_stack
from tests.support.proxy import TcpProxy, via

from . import infra
from .checker import E_INVOICE_CONFIRM_SUBJECT, MailIndex, check
from .history import FAILED, OK, UNKNOWN, History, Operation, classify
from .nemesis import CONSUMERS, RELAYS, SPLIT, Nemesis, schedule

LONG = os.environ.get("EBOK_SYSTEM_LONG") == "1"
SEED = int(os.environ.get("EBOK_SYSTEM_SEED", "1919"))
ROUNDS = 4 if LONG else 1
LONGEST_FAULT = 30.0 if LONG else 2.5  # seconds (the long run has SMTP down for up to 30 s)
pytestmark = [
    pytest.mark.timeout(3600 if LONG else 600),
    pytest.mark.usefixtures("servers_installed"),
]

SESSION_CUSTOMERS = 6  # onboarded before the faults; readings, cases, e-invoices
VICTIMS = 2  # onboarded before the faults, blocked by an operator during them
E_INVOICE_CONFIRM_PAGE = PAGES["confirm_e_invoice"]
BLOCK_REASON = {"reason": "Korzystanie z e-BOK niezgodnie z Regulaminem (pkt IV.3)."}
KINDS = ("register", "reading", "case", "einvoice-request", "einvoice-accept", "block", "terms")
REGISTRANTS = 24 if LONG else 12  # registered during the faults
ATTEMPTS = 5  # per operation: the first and up to four retries of an unknown outcome
CALL_TIMEOUT = 8.0  # seconds per HTTP call; past it the outcome is unknown
DRAIN_WITHIN = 240.0


def _png_1x1() -> bytes:
    """A real one-pixel PNG (the service believes only a file's own first bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x1e\x90\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


PHOTO = _png_1x1()


@dataclass
class Proxies:
    pg: TcpProxy
    amqp: TcpProxy
    smtp: TcpProxy


def _with_faults(proxies: Proxies) -> Any:
    """``running_stack``'s ``make_local``: the planned stack, three services rewired through
    the fault proxies, the notifier retrying within seconds rather than minutes, billing's own
    run on (it consumes every accepted reading), and readings and the notifier each split
    into its roles (``serve --role api|worker|relay``, three processes), so the nemesis can
    kill a relay or a consumer alone."""

    def make(config: StackConfig, output: Output) -> LocalStack:
        local = LocalStack(config, output)
        proxies.smtp.target_port = config.port("sink-smtp")
        changed = {
            "readings": {
                "EBOK_DATABASE_URL": via(config.database_url("readings"), proxies.pg.port)
            },
            "correspondence": {"EBOK_AMQP_URL": via(config.amqp_url, proxies.amqp.port)},
            "notifier": {
                "EBOK_SMTP_PORT": str(proxies.smtp.port),
                "EBOK_SMTP_TIMEOUT": "5",
                "EBOK_DELIVERY_RETRY_BASE": "0.5",
                "EBOK_DELIVERY_RETRY_MAX": "3",
            },
            "billing": {"EBOK_BILLING_RUN": "true"},
        }
        components = [
            replace(c, env={**c.env, **changed[c.name]}) if c.name in changed else c
            for c in local.components
        ]
        local.components = [part for c in components for part in _roles(c)]
        return local

    return make


def _roles(component: Component) -> list[Component]:
    """A service of ``SPLIT`` as three processes: its HTTP part on its own port (what the
    gateway calls), its worker and its relay each on a free port of their own (for
    /health/ready); the database is migrated once, by the first. Any other: as planned."""
    if component.name not in SPLIT:
        return [component]
    parts = [replace(component, env={**component.env, "EBOK_ROLE": "api"})]
    for role in ("worker", "relay"):
        port = infra.free_port()
        env = {**component.env, "EBOK_ROLE": role, "EBOK_HTTP_PORT": str(port)}
        parts.append(
            replace(component, name=f"{component.name}-{role}", port=port, env=env, database=None)
        )
    return parts


@contextlib.contextmanager
def _infrastructure(root: Path) -> Iterator[tuple[infra.PrivatePostgres, infra.RabbitNode]]:
    with infra.private_postgres() as postgres, infra.private_rabbit(root / "rabbit") as broker:
        yield postgres, broker


@contextlib.asynccontextmanager
async def _proxies(
    postgres: infra.PrivatePostgres, broker: infra.RabbitNode
) -> AsyncIterator[Proxies]:
    proxies = Proxies(TcpProxy(postgres.port), TcpProxy(broker.port), TcpProxy(0))
    for proxy in (proxies.pg, proxies.amqp, proxies.smtp):
        await proxy.start()
    try:
        yield proxies
    finally:
        for proxy in (proxies.pg, proxies.amqp, proxies.smtp):
            await proxy.close()


# -- the customers -------------------------------------------------------------------------------


async def _call(
    api: Api, method: str, path: str, **kw: Any
) -> tuple[int | None, Reply | None, str]:
    try:
        reply = await asyncio.wait_for(api.call(method, path, **kw), CALL_TIMEOUT)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return None, None, f"{type(exc).__name__}: {exc}"
    return reply.status, reply, str(reply)


async def _perform(history: History, op: Operation, attempt: Any, *, retry: bool = True) -> None:
    """``attempt()`` until it is ok or definitely failed (an unknown outcome is retried with
    the same id, as a careful client would), at most ATTEMPTS times."""
    for attempt_number in range(ATTEMPTS if retry else 1):
        history.invoke(op)
        status, reply, detail = await attempt()
        outcome = classify(status)
        history.complete(op, outcome, detail)
        if outcome == OK and reply is not None:
            op.result = reply.json() if reply.body else {}
        if outcome in (OK, FAILED):
            return
        # 1, 2, 4, 8 s: past a restarted service or database (its own health-checked start)
        await asyncio.sleep(2.0**attempt_number)


_LINK_ADDRESSES = itertools.count()


class Customer_:
    """One onboarded customer: readings, cases and e-invoice acceptances, one at a time, until
    told to stop."""

    def __init__(
        self, api: Api, session: Session, customer: Customer, history: History, mail: MailIndex
    ) -> None:
        self.api, self.session, self.customer, self.history = api, session, customer, history
        self.mail = mail
        self.value = 100.0

    async def _authorised(
        self, method: str, path: str, **kw: Any
    ) -> tuple[int | None, Reply | None, str]:
        status, reply, detail = await _call(self.api, method, path, token=self.session.access, **kw)
        if status == 401:  # the access token expired: sign in again, then the same call
            with contextlib.suppress(Exception):
                tokens = await log_in(self.api, self.session.login, CUSTOMER_PASSWORD)
                self.session.access = str(tokens["access_token"])
                status, reply, detail = await _call(
                    self.api, method, path, token=self.session.access, **kw
                )
        return status, reply, detail

    async def reading(self) -> None:
        op = Operation(f"sys-r-{uuid.uuid4().hex[:16]}", "reading", self.customer.client_number)
        self.value += 0.125
        body = {
            "value": f"{self.value:.3f}",
            "read_on": dt.date.today().isoformat(),
            "confirm_unusual": True,
        }
        path = f"/me/meters/{quote(self.customer.meter)}/readings"
        await _perform(
            self.history,
            op,
            lambda: self._authorised("POST", path, json=body, headers={"Idempotency-Key": op.id}),
        )

    async def case(self, attachment: bool) -> None:
        """A failure report (with a photo as an attachment when ``attachment``: a multipart
        form) → a case, the photo stored once, a confirmation e-mail."""
        prefix = "sys-ca-" if attachment else "sys-c-"
        op = Operation(f"{prefix}{uuid.uuid4().hex[:16]}", "case", self.customer.client_number)
        body = {
            "kind": "failure_report",
            "place": "ul. Testowa 2, przed budynkiem",
            "description": f"Z pokrywy studzienki wypływa woda (op:{op.id}).",
            "since": dt.date.today().isoformat(),
            "contact_phone": "+48 600 100 200",
        }
        headers = {"Idempotency-Key": op.id}
        if not attachment:
            await _perform(
                self.history,
                op,
                lambda: self._authorised("POST", "/me/correspondence", json=body, headers=headers),
            )
            return

        def form() -> aiohttp.MultipartWriter:
            """The same bytes on every attempt (a fixed boundary): a retry is the same request
            for the gateway's Idempotency-Key; a new writer each time (one is sent once)."""
            writer = aiohttp.MultipartWriter("form-data", boundary=f"ebok-{op.id}")
            document = writer.append(json.dumps(body), {"Content-Type": "application/json"})
            document.set_content_disposition("form-data", name="document")
            photo = writer.append(PHOTO, {"Content-Type": "image/png"})
            photo.set_content_disposition(
                "form-data", name="attachments", filename="studzienka.png"
            )
            return writer

        async def attempt() -> tuple[int | None, Reply | None, str]:
            sent = {**self.api.headers, **headers, "Authorization": f"Bearer {self.session.access}"}
            url = self.api.base + "/me/correspondence"
            try:
                async with asyncio.timeout(CALL_TIMEOUT):
                    async with self.api.http.post(url, data=form(), headers=sent) as resp:
                        reply = Reply(
                            "POST", "/me/correspondence", resp.status, dict(resp.headers),
                            await resp.read(),
                        )  # fmt: skip
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                return None, None, f"{type(exc).__name__}: {exc}"
            return reply.status, reply, str(reply)

        await _perform(self.history, op, attempt)

    async def e_invoice(self) -> None:
        """Ask for e-invoices to a new address (→ a confirmation e-mail there), then follow
        the e-mail's link (→ "accepted" e-mail). Asking is not retried: asking again sends
        another confirmation on purpose."""
        address = f"e-faktury.sys-{uuid.uuid4().hex[:12]}@example.pl"
        number = self.customer.client_number
        asked = Operation(address, "einvoice-request", number)
        await _perform(
            self.history,
            asked,
            lambda: self._authorised("PUT", "/me/e-invoice", json={"email": address}),
            retry=False,
        )
        if asked.outcome != OK:
            return
        token = None
        for _ in range(40):  # the e-mail comes through the bus and SMTP, faults and all
            token = self.mail.token(address, E_INVOICE_CONFIRM_SUBJECT, E_INVOICE_CONFIRM_PAGE)
            if token:
                break
            await asyncio.sleep(0.5)
        if token is None:
            return
        accept = Operation(f"accept:{address}", "einvoice-accept", number)
        # The link is opened wherever the e-mail is read: an address of its own (the public
        # route's per-address limit would otherwise refuse the long schedule's many links).
        k = next(_LINK_ADDRESSES)
        clicker = self.api.from_address(f"10.20.{k // 250 % 250}.{k % 250 + 1}")
        await _perform(
            self.history,
            accept,
            lambda: _call(clicker, "POST", "/e-invoice/confirmations", json={"token": token}),
        )

    async def dashboard(self) -> dict[str, Any] | None:
        """The dashboard as the gateway serves it (from its kept view when it has one); None
        when it could not be had."""
        status, reply, _ = await self._authorised("GET", "/me/dashboard")
        return reply.json() if status == 200 and reply is not None else None

    async def run(self, stop: asyncio.Event, rng: random.Random) -> None:
        while not stop.is_set():
            dice = rng.random()
            if dice < 0.55:
                await self.reading()
                if rng.random() < 0.5:  # look, so the gateway keeps a view to drop
                    await self.dashboard()
            elif dice < 0.9:
                await self.case(attachment=dice >= 0.72)
            else:
                await self.e_invoice()
            await asyncio.sleep(rng.uniform(0.1, 0.5))


async def _as_operator(
    api: Api, operator: Session, method: str, path: str, **kw: Any
) -> tuple[int | None, Reply | None, str]:
    """A call with the operator's token; when it has expired (401: access tokens live five
    minutes, the long schedule runs longer), the session refreshed and the call made again."""
    status, reply, detail = await _call(api, method, path, token=operator.access, **kw)
    if status == 401:
        refreshed, tokens, _ = await _call(
            api, "POST", "/sessions/refresh", json={"refresh_token": operator.refresh}
        )
        if refreshed == 200 and tokens is not None:
            operator.access = str(tokens.json()["access_token"])
            operator.refresh = str(tokens.json()["refresh_token"])
            status, reply, detail = await _call(api, method, path, token=operator.access, **kw)
    return status, reply, detail


async def _blocks(
    api: Api, operator: Session, victims: list[Customer], history: History, every: float
) -> None:
    """An operator blocks each victim in turn, during the faults (→ blocked, a notice e-mail,
    every session of theirs ended)."""
    for victim in victims:
        await asyncio.sleep(every)
        op = Operation(f"sys-b-{victim.client_number}", "block", victim.client_number)
        path = f"/operator/auth/accounts/{victim.client_number}/block"
        await _perform(
            history,
            op,
            lambda p=path: _as_operator(api, operator, "POST", p, json=BLOCK_REASON),
        )


async def _new_terms(
    api: Api, operator: Session, history: History, body: str, after: float
) -> None:
    """An operator publishes new terms during the faults (→ a new version, a campaign: an
    e-mail to every active user). Publishing again is another version, so a careful operator
    whose answer was lost first waits and looks whether the new version is there; only a
    refusal, or nothing there after the wait, is tried again (as a new operation). The
    summary names the operation, so the checker finds its version whatever the client heard."""
    await asyncio.sleep(after)
    for _ in range(ATTEMPTS):
        op = Operation(f"sys-t-{uuid.uuid4().hex[:16]}", "terms", "regulations")
        effective = dt.datetime.now(dt.UTC) + dt.timedelta(days=45)
        new = {
            "body": body.replace(
                "w terminie 30 dni kalendarzowych", "w terminie 14 dni kalendarzowych"
            ),
            "summary": f"Krótszy termin blokady konta po rozwiązaniu umowy (op:{op.id}).",
            "effective_from": effective.isoformat(),
        }
        await _perform(
            history,
            op,
            lambda n=new: _as_operator(api, operator, "POST", "/operator/auth/regulations", json=n),
            retry=False,
        )
        if op.outcome == OK:
            return
        if op.outcome == UNKNOWN:
            await asyncio.sleep(10.0)  # a request still under way has committed by then
            for _ in range(10):
                status, reply, _ = await _call(api, "GET", "/regulations/current")
                if status == 200 and reply is not None:
                    upcoming = reply.json().get("upcoming") or {}
                    if f"op:{op.id}" in str(upcoming.get("summary", "")):
                        return
                    break
                await asyncio.sleep(1.0)
        await asyncio.sleep(1.0)


async def _registrations(
    api: Api,
    registrants: list[Customer],
    history: History,
    stop: asyncio.Event,
    version: str,
    every: float,
) -> None:
    """One registration at a time, spread over the faults (never retried: a second form sends
    a second activation e-mail on purpose). Each from an address of its own: different people
    (the per-address limit on registrations would refuse the long schedule's)."""
    for k, customer in enumerate(registrants):
        if stop.is_set():
            return
        own = api.from_address(f"10.19.2.{k % 250 + 1}")
        op = Operation(f"sys-g-{customer.client_number}", "register", customer.client_number)
        form = {
            "client_number": customer.client_number,
            "email": customer.email,
            "invoice_number": customer.invoice_number,
            "invoice_gross": customer.gross,
            "accepted_regulations_version": version,
        }
        await _perform(
            history,
            op,
            lambda f=form, a=own: _call(a, "POST", "/registrations", json=f),
            retry=False,
        )
        await asyncio.sleep(every)


# -- heal and drain ------------------------------------------------------------------------------


async def _drain(stack: Stack, broker: infra.RabbitNode) -> dict[str, int]:
    """Until every process runs, every outbox is empty, every queue of the stack is drained
    and the notifier has nothing left to send (twice in a row); what was left at the end."""
    for name in (*SERVICES, *RELAYS, *CONSUMERS, "gateway"):
        if not stack.local.children[name].running:
            await stack.start_service(name)
    deadline = time.monotonic() + DRAIN_WITHIN
    quiet = 0
    while True:
        left: dict[str, int] = {}
        for name in (*SERVICES, "gateway"):
            conn = await asyncpg.connect(stack.database_url(name))
            try:
                if await conn.fetchval("SELECT to_regclass('outbox') IS NOT NULL"):
                    left[f"{name} outbox"] = await conn.fetchval("SELECT count(*) FROM outbox")
                if name == "notifier":
                    left["notifier unsent"] = await conn.fetchval(
                        "SELECT count(*) FROM deliveries WHERE status IN ('pending', 'sending')"
                    )
            finally:
                await conn.close()
        listed = await asyncio.to_thread(
            broker.ctl, "list_queues", "name", "messages", "--no-table-headers"
        )
        for line in listed.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0].startswith(stack.config.bus_prefix):
                # The back office's queues have no consumer in a test stack (they only grow);
                # dead letters are reported apart.
                if not parts[0].endswith(".dlq") and ".backoffice." not in parts[0]:
                    left[f"queue {parts[0]}"] = int(parts[1])
        quiet = quiet + 1 if not any(left.values()) else 0
        if quiet >= 2:
            return left
        if time.monotonic() > deadline:
            raise AssertionError(
                f"not drained within {DRAIN_WITHIN:.0f} s: "
                + json.dumps({k: v for k, v in left.items() if v})
            )
        await asyncio.sleep(1.0)


async def _dead_letters(stack: Stack, broker: infra.RabbitNode) -> dict[str, int]:
    listed = await asyncio.to_thread(
        broker.ctl, "list_queues", "name", "messages", "--no-table-headers"
    )
    found = {}
    for line in listed.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].endswith(".dlq") and int(parts[1]):
            found[parts[0]] = int(parts[1])
    return found


# -- the test ------------------------------------------------------------------------------------


async def test_every_operation_takes_effect_exactly_once_while_the_parts_fail(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    artefacts = REPO / "var" / "system"
    artefacts.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    history = History(artefacts / f"faults-{stamp}-{os.getpid()}.jsonl")
    faults = schedule(SEED, ROUNDS, LONGEST_FAULT)
    rng = random.Random(SEED)
    with _infrastructure(tmp_path) as (postgres, broker):
        async with (
            _proxies(postgres, broker) as proxies,
            running_stack(
                postgres.url,
                broker.url,
                tmp_path,
                make_local=_with_faults(proxies),
                log_level="WARNING",
            ) as stack,
            aiohttp.ClientSession() as http,
        ):
            up = time.monotonic()
            api = Api(http, stack.api)
            base = 731000 + rng.randrange(0, 200) * 100
            numbers = [str(base + k) for k in range(SESSION_CUSTOMERS + VICTIMS + REGISTRANTS)]
            loaded = await load_customers(stack, numbers, tmp_path)
            holders = loaded[: SESSION_CUSTOMERS + VICTIMS]
            registrants = loaded[SESSION_CUSTOMERS + VICTIMS :]
            mail = MailIndex(stack.maildir)
            apis = [api.from_address(f"10.19.1.{k + 1}") for k in range(len(holders))]
            sessions = await asyncio.gather(
                *(onboard(own, stack, c) for own, c in zip(apis, holders, strict=True))
            )
            customers = [
                Customer_(own, session, c, history, mail)
                for own, session, c in zip(apis, sessions, holders, strict=True)
            ]
            customers, victims = customers[:SESSION_CUSTOMERS], customers[SESSION_CUSTOMERS:]
            operator = await operator_session(api.from_address("10.19.3.1"), stack)
            current = (await api.get("/regulations/current")).json()
            version = current["version"]
            ready = time.monotonic()

            stop = asyncio.Event()
            nemesis = Nemesis(
                stack, postgres, broker, proxies.pg, proxies.amqp, proxies.smtp, history
            )
            expected_length = sum(f.duration + 1.0 for f in faults) + 30
            workers = [
                asyncio.create_task(c.run(stop, random.Random(SEED + k)))
                for k, c in enumerate(customers)
            ]
            workers.append(
                asyncio.create_task(
                    _registrations(
                        api.from_address("10.19.2.1"),
                        registrants,
                        history,
                        stop,
                        version,
                        expected_length / len(registrants),
                    )
                )
            )
            workers.append(
                asyncio.create_task(
                    _blocks(
                        api.from_address("10.19.3.1"),
                        operator,
                        [v.customer for v in victims],
                        history,
                        expected_length / (VICTIMS + 1),
                    )
                )
            )
            workers.append(
                asyncio.create_task(
                    _new_terms(
                        api.from_address("10.19.3.2"),
                        operator,
                        history,
                        current["body"],
                        expected_length / 4,
                    )
                )
            )
            try:
                await nemesis.run(faults)
            finally:
                stop.set()
                await asyncio.gather(*workers, return_exceptions=True)
            faulted = time.monotonic()

            left = await _drain(stack, broker)
            drained = time.monotonic()
            emails = {c.client_number: c.email for c in loaded}
            sessions_alive = {}
            for victim in victims:  # the token each had before the block, asked after it
                status, _, _ = await _call(api, "GET", "/me/dashboard", token=victim.session.access)
                sessions_alive[victim.customer.client_number] = status == 200
            views = {}  # each customer's dashboard, as the gateway serves it after the drain
            for customer in customers:
                seen = await customer.dashboard()
                views[customer.customer.client_number] = (seen or {}).get(
                    "meters", {"status": "not served"}
                )
            counts = await check(
                history,
                stack.maildir,
                stack.database_url("readings"),
                stack.database_url("correspondence"),
                stack.database_url("notifier"),
                emails,
                setup_addresses={c.email for c in holders},
                auth_dsn=stack.database_url("auth"),
                sessions_alive=sessions_alive,
                billing_dsn=stack.database_url("billing"),
                views=views,
                steady={c.customer.email for c in customers},
            )
            dead = await _dead_letters(stack, broker)
    history.close()
    outcomes = {
        kind: {
            o: sum(1 for op in history.of_kind(kind) if op.outcome == o)
            for o in (OK, FAILED, UNKNOWN)
        }
        for kind in KINDS
    }
    report = {
        "seed": SEED,
        "schedule": [str(f) for f in faults],
        "operations": outcomes,
        "counts": {
            k: v for k, v in vars(counts).items() if k not in ("problems", "section", "table")
        },
        "per_effect": {section: dict(tally) for section, tally in counts.table.items()},
        "problems": counts.problems[:50],
        "dead_letters": dead,
        "left_after_drain": left,
        "seconds": {
            "infrastructure_and_stack": round(up - started, 1),
            "customers_ready": round(ready - up, 1),
            "faults": round(faulted - ready, 1),
            "drain": round(drained - faulted, 1),
            "total": round(time.monotonic() - started, 1),
        },
        "history": str(history.path),
    }
    history.path.with_suffix(".summary.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False)
    )
    print("\nsystem fault suite:", counts.summary())
    print("\n".join(counts.rows()))
    print(json.dumps(report, indent=2, ensure_ascii=False))
    # Enough happened for the verdict to mean something: every kind acknowledged at least once.
    # (The new terms are published once: an answer lost to a fault is judged by its effect.)
    for kind, by_outcome in outcomes.items():
        if kind == "terms":
            assert sum(by_outcome.values()) > 0, f"no new terms were published: {report}"
            continue
        assert by_outcome[OK] > 0, f"no {kind} was acknowledged: {report}"
    assert counts.clean, counts.summary() + "\n" + "\n".join(counts.problems[:50])
