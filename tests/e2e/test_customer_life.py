"""A customer's whole life in e-BOK and an operator's, over real processes of every service,
the gateway, the broker, the databases and the SMTP sink, all through the gateway's public
API (``/api/v1``). The back office's data comes in through billing's feed CLI; every e-mail
is read from the sink's Maildir, every link token from the e-mail.

One stack for the module; each test takes clients of its own, so they can run alone.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import time
import uuid
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ebok_notifier.render import PAGES
from ebok_shared.clock import LOCAL_TZ

from tests.support.waiting import eventually

from .client import Api, Reply, expect, expect_problem, multipart
from .data import Customer, load_customers
from .journeys import (
    CUSTOMER_PASSWORD,
    Session,
    activate,
    change_password,
    log_in,
    onboard,
    register,
)
from .mail import Mail, all_mail, subject_has, wait_for_mail
from .stack import Stack

pytestmark = pytest.mark.timeout(300)

# Who is who: one client per role, so every test keeps to its own.
LIFE, OWNER, NEIGHBOUR, TO_BLOCK, READER_1, READER_2 = (
    "710001",
    "710002",
    "710003",
    "710004",
    "710005",
    "710006",
)
# The front-end pages the e-mails link to (the token or version in the query string).
E_INVOICE_CONFIRM_PAGE = PAGES["confirm_e_invoice"]
REGULATIONS_PAGE = PAGES["regulations"]
SECOND = 1.0  # "within 1 second": a bounded wait, polled
# A valid 1×1 PNG (a phone's photo of the meter, in small) and a minimal PDF.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture(scope="module")
async def customers(stack: Stack, workdir: Path) -> dict[str, Customer]:
    numbers = [LIFE, OWNER, NEIGHBOUR, TO_BLOCK, READER_1, READER_2]
    loaded = await load_customers(stack, numbers, workdir)
    return {c.client_number: c for c in loaded}


def _today() -> str:
    """Today in Warsaw, as the services count days."""
    return dt.datetime.now(LOCAL_TZ).date().isoformat()


async def _refused_within_a_second(api: Api, token: str) -> float:
    """Polls a customer route with ``token`` until the gateway answers 401."""
    last: list[Reply] = []

    async def refused() -> bool:
        last[:] = [await api.get("/me/dashboard", token=token)]
        return last[0].status == 401

    started = time.monotonic()
    await eventually(refused, "the old token to be refused", within=SECOND, step=0.02)
    waited = time.monotonic() - started
    expect_problem(last[0], 401)
    print(f"token refused {waited * 1000:.0f} ms after the answer")  # shown with -s
    return waited


# -- a customer's life ----------------------------------------------------------------------


async def test_customer_life(
    api: Api, stack: Stack, customers: dict[str, Customer], operator: Session
) -> None:
    me = customers[LIFE]

    # The regulations in force, read before registering (terms II: accepted with the form).
    regulations = expect(await api.get("/regulations/current"), 200)
    assert regulations["version"] >= 1 and "e-BOK" in regulations["body"]

    # Registration (202 whatever the data) → the activation e-mail → the initial password.
    token = await register(api, stack, me)
    initial = await activate(api, token)
    again = await api.post("/activations", json={"token": token})
    assert again.status in (404, 410), str(again)  # a link works once

    # The first login's session may only change the password.
    first = await log_in(api, me.client_number, initial)
    assert first["password_change_required"] is True
    restricted = str(first["access_token"])
    expect_problem(
        await api.get("/me/dashboard", token=restricted), 403, "password-change-required"
    )
    await change_password(api, restricted, initial, CUSTOMER_PASSWORD)

    # A fresh login: the whole dashboard, every part of it answered by its service.
    session = await log_in(api, me.client_number, CUSTOMER_PASSWORD)
    assert session["password_change_required"] is False
    token = str(session["access_token"])
    dashboard = expect(await api.get("/me/dashboard", token=token), 200)
    assert {name: part["status"] for name, part in dashboard.items()} == {
        "profile": "ok",
        "contracts": "ok",
        "meters": "ok",
        "balance": "ok",
        "last_invoices": "ok",
        "e_invoice": "ok",
        "open_cases": "ok",
        "garden_meter_requests": "ok",
        "notices": "ok",
    }, dashboard
    assert dashboard["profile"]["data"]["client_number"] == me.client_number
    assert [c["contract_number"] for c in dashboard["contracts"]["data"]["items"]] == [
        me.contract_number
    ]
    assert me.meter in [m["serial"] for m in dashboard["meters"]["data"]["items"]]
    assert me.invoice_number in [
        i["invoice_number"] for i in dashboard["last_invoices"]["data"]["items"]
    ]

    await _submit_reading(api, token, me)
    await _invoice_pdf(api, token, me)
    await _e_invoice(api, stack, token, me)
    await _failure_report(api, stack, token, me)
    await _letter_with_attachments(api, stack, token, me)
    await _garden_meter_request(api, stack, token, me, operator)
    await _export(api, token, me)

    # Deleting the account (the password confirms it): the old token is refused at once.
    deleted = expect(
        await api.delete(
            "/me", token=token, json={"current_password": CUSTOMER_PASSWORD, "confirm": True}
        ),
        200,
    )
    assert "usunięte" in deleted["message"]
    await _refused_within_a_second(api, token)
    expect_problem(
        await api.post(
            "/sessions", json={"login": me.client_number, "password": CUSTOMER_PASSWORD}
        ),
        401,
    )
    await wait_for_mail(stack.maildir, me.email, subject_has("usunięcia konta"))


async def _submit_reading(api: Api, token: str, me: Customer) -> None:
    """A reading with a photo of the meter, as a multipart form (issue 14)."""
    meters = expect(await api.get("/me/meters", token=token), 200)
    assert [m["serial"] for m in meters["items"]] == [me.meter]
    path = f"/me/meters/{quote(me.meter)}/readings"
    form = multipart(
        {"value": "123.456", "read_on": _today()},
        [("photo", "licznik.png", PNG, "image/png")],
    )
    reading = expect(await api.post(path, token=token, form=form, idempotent=True), 201)
    assert reading["status"] == "accepted", reading
    assert reading["has_photo"] is True, reading
    history = expect(await api.get(path, token=token), 200)
    assert [(r["value"], r["read_on"]) for r in history["items"]][:1] == [("123.456", _today())]
    # A photo that is not one is refused, naming the field.
    wrong = multipart(
        {"value": "123.456", "read_on": _today()}, [("photo", "a.png", PDF, "image/png")]
    )
    problem = expect_problem(await api.post(path, token=token, form=wrong, idempotent=True), 422)
    assert problem["errors"][0]["field"] == "photo", problem


async def _invoice_pdf(api: Api, token: str, me: Customer) -> None:
    invoices = expect(await api.get("/me/invoices", token=token), 200)
    assert {i["invoice_number"] for i in invoices["items"]} == {n for n, _ in me.invoices}
    pdf = await api.get(f"/me/invoices/{me.invoice_number}/pdf", token=token)
    assert pdf.status == 200, str(pdf)
    assert pdf.content_type == "application/pdf"
    assert pdf.body.startswith(b"%PDF")


async def _e_invoice(api: Api, stack: Stack, token: str, me: Customer) -> None:
    address = f"e-faktury.{me.client_number}@example.pl"
    asked = expect(await api.put("/me/e-invoice", token=token, json={"email": address}), 202)
    assert asked["pending"]["email"] == address, asked
    mail = await wait_for_mail(stack.maildir, address, subject_has("e-faktur"))
    confirmed = expect(
        await api.post(
            "/e-invoice/confirmations", json={"token": mail.token(E_INVOICE_CONFIRM_PAGE)}
        ),
        200,
    )
    assert confirmed["status"] == "accepted"
    state = expect(await api.get("/me/e-invoice", token=token), 200)
    assert (state["status"], state["email"], state["delivery"]) == ("accepted", address, "e-mail")


async def _failure_report(api: Api, stack: Stack, token: str, me: Customer) -> None:
    report = {
        "kind": "failure_report",
        "place": "ul. Testowa 2, przed budynkiem",
        "description": "Z pokrywy studzienki wypływa woda.",
        "since": _today(),
        "contact_phone": "+48 600 100 200",
    }
    case = expect(
        await api.post("/me/correspondence", token=token, json=report, idempotent=True), 201
    )
    number = case["number"]
    assert number.startswith("EBOK/"), case
    mail = await wait_for_mail(stack.maildir, me.email, subject_has(number))
    assert number in mail.text
    cases = expect(await api.get("/me/correspondence", token=token), 200)
    assert number in [c["number"] for c in cases["items"]]


async def _letter_with_attachments(api: Api, stack: Stack, token: str, me: Customer) -> None:
    """A letter with two attachments, as a multipart form (the document as JSON text)."""
    letter = {"kind": "letter", "subject": "Kopia umowy", "content": "Proszę o kopię umowy."}
    form = multipart(
        {"document": json.dumps(letter, ensure_ascii=False)},
        [
            ("attachments", "wniosek.pdf", PDF, "application/pdf"),
            ("attachments", "zdjęcie.png", PNG, "image/png"),
        ],
    )
    case = expect(
        await api.post("/me/correspondence", token=token, form=form, idempotent=True), 201
    )
    assert sorted(a["filename"] for a in case["attachments"]) == ["wniosek.pdf", "zdjęcie.png"]
    assert {a["size"] for a in case["attachments"]} == {len(PDF), len(PNG)}
    await wait_for_mail(stack.maildir, me.email, subject_has(case["number"]))
    detail = expect(await api.get(f"/me/correspondence/{case['id']}", token=token), 200)
    stored = {a["filename"]: a for a in detail["attachments"]}
    pdf = await api.get(stored["wniosek.pdf"]["path"].removeprefix("/api/v1"), token=token)
    assert pdf.status == 200 and pdf.body == PDF, str(pdf)


async def _garden_meter_request(
    api: Api, stack: Stack, token: str, me: Customer, operator: Session
) -> None:
    garden = f"WG-{me.client_number}-1"
    wanted = {
        "kind": "installation",
        "done_on": _today(),
        "contract_number": me.contract_number,
        "new_serial": garden,
        "initial_value": "0.000",
        "seal_number": "PL-2026/001",
    }
    form = multipart(wanted, [("photo", "ogrodowy.png", PNG, "image/png")])
    submitted = expect(
        await api.post("/me/garden-meter-requests", token=token, form=form, idempotent=True),
        201,
    )
    assert submitted["status"] == "submitted", submitted
    assert await _waiting_on_dashboard(api, token) == [submitted["id"]]

    # The operator finds it in the queue and accepts it (through the gateway's operator routes).
    queue = expect(
        await api.get(
            "/operator/readings/garden-meter-requests",
            token=operator.access,
            params={"status": "submitted", "client_number": me.client_number},
        ),
        200,
    )
    assert [r["id"] for r in queue["items"]] == [submitted["id"]], queue
    assert queue["items"][0]["has_photo"] is True, queue  # the form's photo came with it
    expect(
        await api.post(
            f"/operator/readings/garden-meter-requests/{submitted['id']}/decision",
            token=operator.access,
            json={"decision": "accept"},
        ),
        200,
    )

    # The customer sees the decision, the new meter, and gets the e-mail.
    mine = expect(await api.get("/me/garden-meter-requests", token=token), 200)
    assert [(r["id"], r["status"]) for r in mine["items"]] == [(submitted["id"], "accepted")]

    # The dashboard part the gateway kept goes when readings' event about the decision
    # reaches it (an operator's change, unlike the customer's own, is known by its event).
    async def decided_on_dashboard() -> bool:
        return await _waiting_on_dashboard(api, token) == []

    await eventually(
        decided_on_dashboard, "the decision on the dashboard", within=SECOND, step=0.02
    )
    meters = expect(await api.get("/me/meters", token=token), 200)
    assert garden in [m["serial"] for m in meters["items"]]
    mail = await wait_for_mail(stack.maildir, me.email, subject_has("Wniosek przyjęty"))
    assert me.contract_number in mail.text
    # And the confirmation that the request came in (issue 14.10).
    received = await wait_for_mail(stack.maildir, me.email, subject_has("Przyjęliśmy zgłoszenie"))
    assert garden in received.text and me.contract_number in received.text


async def _waiting_on_dashboard(api: Api, token: str) -> list[str]:
    """The garden-meter requests the dashboard shows as still waiting for a decision."""
    part = expect(await api.get("/me/dashboard", token=token), 200)["garden_meter_requests"]
    assert part["status"] == "ok", part
    return [r["id"] for r in part["data"]["items"]]


async def _export(api: Api, token: str, me: Customer) -> None:
    reply = await api.get("/me/export", token=token)
    document = expect(reply, 200)
    assert document["client_number"] == me.client_number
    parts = document["services"]
    assert set(parts) == {"auth", "billing", "readings", "correspondence", "notifier"}, parts
    assert me.client_number in json.dumps(parts["auth"])
    assert me.invoice_number in json.dumps(parts["billing"])
    assert me.meter in json.dumps(parts["readings"])
    assert "EBOK/" in json.dumps(parts["correspondence"])
    assert me.email in json.dumps(parts["notifier"])
    assert document["archive"] == "/api/v1/me/export/archive"

    # The whole export as one archive: the data as JSON, the files, what each entry is.
    archive_reply = await api.get("/me/export/archive", token=token)
    assert archive_reply.status == 200, str(archive_reply)
    assert archive_reply.content_type == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(archive_reply.body))
    names = set(archive.namelist())
    assert {f"dane/{name}.json" for name in parts} | {"manifest.json"} <= names, names
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["client_number"] == me.client_number
    assert {e["path"] for e in manifest["entries"]} == names - {"manifest.json"}
    billing = json.loads(archive.read("dane/billing.json"))
    assert billing["invoices"] and all(i["lines"] for i in billing["invoices"])
    assert "payments" in billing


# -- an operator's life ----------------------------------------------------------------------


async def test_operator_blocks_a_customer_whose_token_is_refused_at_once(
    api: Api, stack: Stack, customers: dict[str, Customer], operator: Session
) -> None:
    victim = await onboard(api, stack, customers[TO_BLOCK])
    expect(await api.get("/me/dashboard", token=victim.access), 200)

    found = expect(
        await api.get(f"/operator/auth/accounts/{victim.login}", token=operator.access), 200
    )
    assert found["status"] == "active"
    blocked = expect(
        await api.post(
            f"/operator/auth/accounts/{victim.login}/block",
            token=operator.access,
            json={"reason": "Korzystanie z e-BOK niezgodnie z Regulaminem (pkt IV.3)."},
        ),
        200,
    )
    assert blocked["status"] == "blocked"
    await _refused_within_a_second(api, victim.access)

    refused = await api.post("/sessions", json={"login": victim.login, "password": victim.password})
    expect_problem(refused, 403, "account-blocked")
    mail = await wait_for_mail(stack.maildir, customers[TO_BLOCK].email, subject_has("zablokowany"))
    assert "IV.3" in mail.text


async def test_new_regulations_reach_every_active_customer_once(
    api: Api, stack: Stack, customers: dict[str, Customer], operator: Session
) -> None:
    for number in (READER_1, READER_2):
        await onboard(api, stack, customers[number])
    effective = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    published = expect(
        await api.post(
            "/operator/auth/regulations",
            token=operator.access,
            json={
                "body": _new_regulations(),
                "effective_from": effective.isoformat(),
                "summary": "Nowy sposób zgłaszania wodomierzy ogrodowych.",
            },
        ),
        201,
    )
    version = published["version"]
    upcoming = expect(await api.get("/regulations/current"), 200)["upcoming"]
    assert upcoming["version"] == version

    accounts = expect(
        await api.get(
            "/operator/auth/accounts",
            token=operator.access,
            params={"status": "active", "limit": "100"},
        ),
        200,
    )
    active = {a["email"] for a in accounts["items"]}
    assert {customers[READER_1].email, customers[READER_2].email} <= active

    async def all_sent() -> bool:
        return {m.to for m in _about_version(stack, version)} >= active

    await eventually(all_sent, "the campaign's e-mails", within=60, step=0.2)
    campaign = await _campaign_done(api, operator)
    assert campaign["total"] == len(active) == campaign["sent"], campaign
    sent_to = [m.to for m in _about_version(stack, version)]
    assert sorted(sent_to) == sorted(active)  # every active customer, each exactly once


def _new_regulations() -> str:
    clauses = [
        "I.1. Regulamin określa zasady korzystania z Internetowego Biura Obsługi Klienta.",
        "I.2. Korzystanie z e-BOK jest bezpłatne.",
        "III.f. Wodomierze ogrodowe zgłasza się wyłącznie przez e-BOK, ze zdjęciem plomby.",
    ]
    return "\n\n".join(clauses)


def _about_version(stack: Stack, version: int) -> list[Mail]:
    """The regulations e-mails that link to ``version``'s text."""
    found = []
    for mail in all_mail(stack.maildir):
        for link in mail.links():
            parts = urlsplit(link)
            if parts.path == REGULATIONS_PAGE and parse_qs(parts.query).get("wersja") == [
                str(version)
            ]:
                found.append(mail)
                break
    return found


async def _campaign_done(api: Api, operator: Session) -> dict[str, object]:
    campaigns = expect(await api.get("/operator/notifier/campaigns", token=operator.access), 200)
    newest = campaigns["items"][0]
    last: list[dict[str, object]] = []

    async def done() -> bool:
        last[:] = [
            expect(
                await api.get(
                    f"/operator/notifier/campaigns/{newest['id']}", token=operator.access
                ),
                200,
            )
        ]
        return bool(last[0]["done"])

    await eventually(done, "the campaign to finish", within=30, step=0.2)
    return last[0]


# -- two clients, and tokens that are not what they claim -----------------------------------


@pytest.fixture(scope="module")
async def neighbours(
    api: Api, stack: Stack, customers: dict[str, Customer]
) -> tuple[Session, Session]:
    """Two clients with full sessions: OWNER and NEIGHBOUR."""
    return await onboard(api, stack, customers[OWNER]), await onboard(
        api, stack, customers[NEIGHBOUR]
    )


async def test_a_customer_never_reaches_another_clients_data(
    api: Api, customers: dict[str, Customer], neighbours: tuple[Session, Session]
) -> None:
    owner, neighbour = customers[OWNER], customers[NEIGHBOUR]
    mine, theirs = neighbours
    letter = {"kind": "letter", "subject": "Pytanie", "content": "Proszę o kontakt."}
    their_case = expect(
        await api.post("/me/correspondence", token=theirs.access, json=letter, idempotent=True),
        201,
    )
    my_case = expect(
        await api.post("/me/correspondence", token=mine.access, json=letter, idempotent=True),
        201,
    )

    def paths(c: Customer, case_id: str) -> list[str]:
        return [
            f"/me/invoices/{c.invoice_number}",
            f"/me/invoices/{c.invoice_number}/pdf",
            f"/me/contracts/{quote(c.contract_number, safe='')}",
            f"/me/contracts/{quote(c.contract_number, safe='')}/document",
            f"/me/meters/{c.meter}/readings",
            f"/me/correspondence/{case_id}",
        ]

    # Each path answers its owner (so a 404 below is about ownership, not a wrong path) …
    for path in paths(owner, my_case["id"]):
        assert (await api.get(path, token=mine.access)).status == 200, path
    # … and never the other client.
    for path in paths(neighbour, their_case["id"]):
        expect_problem(await api.get(path, token=mine.access), 404)
    expect_problem(
        await api.post(
            f"/me/meters/{neighbour.meter}/readings",
            token=mine.access,
            json={"value": "10.000", "read_on": _today()},
        ),
        404,
    )
    listed = expect(await api.get("/me/invoices", token=mine.access), 200)
    assert {i["invoice_number"] for i in listed["items"]} == {n for n, _ in owner.invoices}

    # Operator routes are not for customers.
    for path in (
        "/operator/auth/accounts",
        "/operator/readings/garden-meter-requests",
        "/operator/correspondence/cases",
        "/operator/portal-settings",
    ):
        expect_problem(await api.get(path, token=mine.access), 403, "forbidden")


async def test_forged_tokens_are_refused(
    api: Api, customers: dict[str, Customer], neighbours: tuple[Session, Session]
) -> None:
    owner = customers[OWNER]
    real = neighbours[0].access
    header = jwt.get_unverified_header(real)
    claims = jwt.decode(real, options={"verify_signature": False})

    # Signed with a key of our own under auth's key id, and for someone else.
    other_key = Ed25519PrivateKey.generate()
    forged = jwt.encode(claims, other_key, algorithm="EdDSA", headers={"kid": header["kid"]})
    # auth's real signature over a changed subject.
    head, _, signature = real.split(".")
    changed = {**claims, "sub": customers[NEIGHBOUR].client_number}
    tampered = ".".join([head, _b64(json.dumps(changed).encode()), signature])
    # No signature at all.
    unsigned = ".".join(
        [_b64(b'{"alg":"none","typ":"JWT"}'), _b64(json.dumps(claims).encode()), ""]
    )
    # A key id nobody published.
    unknown = jwt.encode(claims, other_key, algorithm="EdDSA", headers={"kid": uuid.uuid4().hex})

    assert (await api.get("/me/dashboard", token=real)).status == 200
    for token in (forged, tampered, unsigned, unknown, "not-a-token"):
        expect_problem(await api.get("/me/dashboard", token=token), 401)
        expect_problem(await api.get(f"/me/invoices/{owner.invoice_number}", token=token), 401)
    expect_problem(await api.get("/me/dashboard"), 401)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
