"""Pages of the customer portal: garden meters (``/wodomierze``).

The customer's garden meters (legalisation and the mandatory reading dates), their requests
with each one's status history, and one page per kind of request: installation, replacement,
removal — each with the fields the readings service takes for that kind, and an optional
photo of the meter with its seal.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from .access import api, customer_page, session_of
from .forms import Form, read_form
from .http_readings import check_photo, photo_upload
from .rendering import redirect, render
from .sections import read_only
from .submissions import (
    KEY_FIELD,
    key_of,
    multipart,
    new_key,
    post_once,
    section_notice,
    uploads,
)
from .typed import parse_day, parse_value

routes = web.RouteTableDef()

PAGE_SIZE = 10
SERIAL_RE = re.compile(r"^[A-Z0-9-]{3,30}$")
SEAL_RE = re.compile(r"^[A-Za-z0-9/-]{1,30}$")
# Page address → (API kind, page title, the fields the kind takes, in the form's order).
KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "montaz": (
        "installation",
        "Zgłoszenie montażu wodomierza ogrodowego",
        ("contract_number", "new_serial", "seal_number", "initial_value", "done_on"),
    ),
    "wymiana": (
        "replacement",
        "Zgłoszenie wymiany wodomierza ogrodowego",
        ("old_serial", "final_value", "new_serial", "seal_number", "initial_value", "done_on"),
    ),
    "demontaz": (
        "removal",
        "Zgłoszenie demontażu wodomierza ogrodowego",
        ("old_serial", "final_value", "done_on"),
    ),
}
KIND_LABELS = {
    "installation": "Montaż",
    "replacement": "Wymiana",
    "removal": "Demontaż",
}
DONE_ON = {"installation": "montażu", "replacement": "wymiany", "removal": "demontażu"}
STATUS_TAGS = {
    "submitted": ("czeka na rozpatrzenie", "warn"),
    "accepted": ("przyjęte", "ok"),
    "rejected": ("odrzucone", "bad"),
}


async def _garden_meters(request: web.Request) -> tuple[list[dict[str, Any]] | None, str | None]:
    reply = await api(request).get("/me/meters")
    if not reply.ok:
        return None, section_notice(reply) or "Nie udało się pobrać listy wodomierzy."
    return [m for m in reply.json()["items"] if m["kind"] == "garden"], None


@routes.get("/wodomierze")
@customer_page()
async def garden(request: web.Request) -> web.StreamResponse:
    meters, meters_notice = await _garden_meters(request)
    page = request.query.get("page", "1")
    page = page if page.isdigit() and 0 < int(page) < 100000 else "1"
    reply = await api(request).get(
        "/me/garden-meter-requests", params={"page": page, "page_size": str(PAGE_SIZE)}
    )
    requests_, requests_notice = None, None
    if reply.ok:
        requests_ = reply.json()
    else:
        requests_notice = section_notice(reply) or "Nie udało się pobrać zgłoszeń."
    installed = [m for m in meters or [] if m["status"] == "installed"]
    return render(
        request,
        "garden/garden.html",
        title="Wodomierze ogrodowe",
        read_only=await read_only(request, "garden_meters"),
        meters=meters or [],
        installed=installed,
        meters_notice=meters_notice,
        requests=requests_,
        requests_notice=requests_notice,
        kind_labels=KIND_LABELS,
        tags=STATUS_TAGS,
    )


def _kind(request: web.Request) -> tuple[str, str, str, tuple[str, ...]]:
    slug = request.match_info["kind"]
    if slug not in KINDS:
        raise web.HTTPNotFound()
    return (slug, *KINDS[slug])


async def _form_page(request: web.Request, form: Form, status: int = 200) -> web.StreamResponse:
    slug, kind, title, fields = _kind(request)
    meters, notice = await _garden_meters(request)
    installed = [m["serial"] for m in meters or [] if m["status"] == "installed"]
    contracts: list[dict[str, Any]] = []
    if kind == "installation":
        reply = await api(request).get("/me/contracts")
        if reply.ok:
            contracts = [c for c in reply.json()["items"] if c.get("status") != "terminated"]
    if KEY_FIELD not in form.values or form.invalid:
        form.values[KEY_FIELD] = new_key()
    return render(
        request,
        "garden/request.html",
        title=title,
        status=status,
        read_only=await read_only(request, "garden_meters"),
        slug=slug,
        kind=kind,
        fields=fields,
        form=form,
        notice=notice,
        installed=installed,
        contract_options=[(c["contract_number"], _contract_label(c)) for c in contracts],
        contracts=contracts,
        done_on_label=DONE_ON[kind],
    )


def _contract_label(contract: dict[str, Any]) -> str:
    address = contract.get("supply_address") or {}
    where = ", ".join(str(address[k]) for k in ("street", "city") if address.get(k))
    return f"{contract['contract_number']} – {where}" if where else str(contract["contract_number"])


@routes.get("/wodomierze/{kind}")
@customer_page()
async def request_form(request: web.Request) -> web.StreamResponse:
    return await _form_page(request, Form())


def _check(form: Form, kind: str, fields: tuple[str, ...]) -> dict[str, str]:
    """The API's body for the kind, from what the customer typed (errors into ``form``)."""
    body = {"kind": kind}
    for name in fields:
        raw = form.value(name)
        if name in ("new_serial", "old_serial"):
            serial = raw.replace(" ", "").upper()
            form.values[name] = serial
            if not serial:
                form.error(name, "Podaj numer wodomierza.")
            elif not SERIAL_RE.match(serial):
                form.error(
                    name, "Numer wodomierza to wielkie litery, cyfry i myślniki, np. WG-12345."
                )
            body[name] = serial
        elif name in ("initial_value", "final_value"):
            value, problem = parse_value(raw)
            if problem:
                form.error(name, problem)
            body[name] = value or ""
        elif name == "seal_number":
            if not raw:
                form.error(name, "Podaj numer plomby.")
            elif not SEAL_RE.match(raw):
                form.error(name, "Numer plomby to litery, cyfry, „/” i „-”, np. PL-2026/001.")
            body[name] = raw
        elif name == "done_on":
            day, problem = parse_day(raw, DONE_ON[kind])
            if problem:
                form.error(name, problem)
            body[name] = day or ""
        elif name == "contract_number" and raw:
            body[name] = raw
    if "new_serial" in body and body.get("new_serial") == body.get("old_serial"):
        form.error("new_serial", "Nowy wodomierz musi mieć inny numer niż wymieniany.")
    return body


@routes.post("/wodomierze/{kind}")
@customer_page()
async def submit(request: web.Request) -> web.StreamResponse:
    _, kind, _, fields = _kind(request)
    form = await read_form(request)
    photo = uploads(await request.post(), "photo")
    body = _check(form, kind, fields)
    problem = check_photo(photo)
    if problem:
        form.error("photo", problem)
    if form.invalid:
        return await _form_page(request, form, status=422)
    key = key_of(form.values)
    if photo:
        parts = [(name, value, "text/plain") for name, value in body.items()]
        data = multipart(parts, [photo_upload(photo[0])], key)
        reply = await post_once(api(request), "/me/garden-meter-requests", key, data=data)
    else:
        reply = await post_once(api(request), "/me/garden-meter-requests", key, json_body=body)
    if reply.ok:
        session = session_of(request)
        if session is not None:
            session.flash.append(
                str(reply.json().get("message") or "Zgłoszenie przekazano do rozpatrzenia.")
            )
        redirect("/wodomierze")
    notice = section_notice(reply)
    if notice or reply.code == "section-read-only":
        form.detail = notice or str(reply.problem.get("detail"))
    else:
        form.take_problem(reply.problem, known=(*fields, "photo"))
    return await _form_page(request, form, status=422)
