"""The console's meter queues (customer service): garden-meter requests (accept, or reject
with the reason the customer will read) and readings to verify (with the photo and the
meter's whole history; accept, or reject with a reason). Oldest first, as they came in."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from .access import api
from .console import checked, console_page, done, page_number, passthrough
from .forms import Form, read_form
from .http_garden import KIND_LABELS as GARDEN_KINDS
from .http_garden import STATUS_TAGS as GARDEN_TAGS
from .http_readings import KINDS as METER_KINDS
from .http_readings import STATUS_TAGS as READING_TAGS
from .operator_roles import CUSTOMER_SERVICE
from .rendering import render
from .submissions import valid_uuid

routes = web.RouteTableDef()

GARDEN = "/operator/wodomierze-ogrodowe"
READINGS = "/operator/odczyty"
API = "/operator/readings"
PAGE_SIZE = 25
GARDEN_FILTERS = (
    ("submitted", "Do rozpatrzenia"),
    ("accepted", "Przyjęte"),
    ("rejected", "Odrzucone"),
)
SOURCES = {
    "customer": "klient (e-BOK)",
    "inspector": "inkasent",
    "remote": "odczyt zdalny",
    "estimate": "szacunek",
}
DECISIONS = (("accept", "Przyjmij", None), ("reject", "Odrzuć", "Podaj powód: klient go zobaczy."))


def _decision(form: Form) -> dict[str, str]:
    """The API's decision body from the form (errors into ``form``)."""
    decision = form.value("decision")
    if decision not in ("accept", "reject"):
        form.error("decision", "Wybierz: przyjmij albo odrzuć.")
        return {}
    reason = form.value("reason")
    if decision == "reject" and not reason:
        form.error("reason", "Podaj powód odrzucenia – klient go zobaczy.")
    elif len(reason) > 500:
        form.error("reason", "Powód może mieć najwyżej 500 znaków.")
    return {"decision": decision, **({"reason": reason} if reason else {})}


async def _decide(request: web.Request, api_path: str, form: Form, where: str) -> None:
    """Send the decision; on success back to the queue with a message (else errors in form)."""
    body = _decision(form)
    if form.invalid:
        return
    reply = checked(await api(request).post(api_path, json_body=body))
    if reply.ok:
        verdict = "przyjęte" if body["decision"] == "accept" else "odrzucone"
        done(request, f"Zapisano decyzję: {verdict}.", where)
    if reply.status == 404:
        raise web.HTTPNotFound()
    form.take_problem(reply.problem, known=("decision", "reason"))


@routes.get("/operator/zdjecia/{photo_id}")
@console_page(CUSTOMER_SERVICE)
async def photo(request: web.Request) -> web.StreamResponse:
    photo_id = valid_uuid(request.match_info["photo_id"])
    reply = checked(await api(request).get(f"{API}/photos/{photo_id}"))
    if not reply.ok:
        raise web.HTTPNotFound()
    return passthrough(reply, "zdjecie")


# -- garden-meter requests -----------------------------------------------------------------------


@routes.get(GARDEN)
@console_page(CUSTOMER_SERVICE)
async def garden_queue(request: web.Request) -> web.StreamResponse:
    status = request.query.get("status", "submitted")
    status = status if status in dict(GARDEN_FILTERS) else "submitted"
    params = {"status": status, "page": page_number(request), "page_size": str(PAGE_SIZE)}
    reply = checked(await api(request).get(f"{API}/garden-meter-requests", params=params))
    return render(
        request,
        "console/garden.html",
        title="Wodomierze ogrodowe",
        found=reply.json() if reply.ok else None,
        filters=Form(values={"status": status}),
        status_filters=GARDEN_FILTERS,
        query={"status": status},
        kinds=GARDEN_KINDS,
        tags=GARDEN_TAGS,
    )


async def _garden_page(
    request: web.Request, request_id: str, form: Form | None = None, status: int = 200
) -> web.Response:
    reply = checked(await api(request).get(f"{API}/garden-meter-requests/{request_id}"))
    if reply.status == 404:
        raise web.HTTPNotFound()
    return render(
        request,
        "console/garden_request.html",
        title="Zgłoszenie wodomierza ogrodowego",
        item=reply.json() if reply.ok else None,
        form=form or Form(),
        kinds=GARDEN_KINDS,
        tags=GARDEN_TAGS,
        decisions=DECISIONS,
        status=status,
    )


@routes.get(GARDEN + "/{request_id}")
@console_page(CUSTOMER_SERVICE)
async def garden_request(request: web.Request) -> web.StreamResponse:
    return await _garden_page(request, valid_uuid(request.match_info["request_id"]))


@routes.post(GARDEN + "/{request_id}")
@console_page(CUSTOMER_SERVICE)
async def decide_garden_request(request: web.Request) -> web.StreamResponse:
    request_id = valid_uuid(request.match_info["request_id"])
    form = await read_form(request)
    await _decide(request, f"{API}/garden-meter-requests/{request_id}/decision", form, GARDEN)
    return await _garden_page(request, request_id, form, status=422)


# -- readings to verify --------------------------------------------------------------------------


def reading_path(serial: str, reading_id: str) -> str:
    return f"{READINGS}/{quote(serial, safe='')}/{reading_id}"


@routes.get(READINGS)
@console_page(CUSTOMER_SERVICE)
async def readings_queue(request: web.Request) -> web.StreamResponse:
    params = {"page": page_number(request), "page_size": str(PAGE_SIZE)}
    reply = checked(await api(request).get(f"{API}/readings", params=params))
    return render(
        request,
        "console/readings.html",
        title="Odczyty do weryfikacji",
        found=reply.json() if reply.ok else None,
        reading_path=reading_path,
        sources=SOURCES,
    )


async def _reading_page(
    request: web.Request,
    serial: str,
    reading_id: str,
    form: Form | None = None,
    status: int = 200,
) -> web.Response:
    reply = checked(await api(request).get(f"{API}/meters/{quote(serial, safe='')}"))
    if reply.status == 404:
        raise web.HTTPNotFound()
    meter: dict[str, Any] | None = reply.json() if reply.ok else None
    reading = None
    if meter is not None:
        reading = next((r for r in meter["readings"] if r["id"] == reading_id), None)
        if reading is None:
            raise web.HTTPNotFound()
    return render(
        request,
        "console/reading.html",
        title="Odczyt do weryfikacji",
        meter=meter,
        reading=reading,
        form=form or Form(),
        decisions=DECISIONS,
        sources=SOURCES,
        tags=READING_TAGS,
        meter_kinds=METER_KINDS,
        status=status,
    )


def _serial(request: web.Request) -> str:
    serial = request.match_info["serial"]
    if not 0 < len(serial) <= 64:
        raise web.HTTPNotFound()
    return serial


@routes.get(READINGS + "/{serial}/{reading_id}")
@console_page(CUSTOMER_SERVICE)
async def reading(request: web.Request) -> web.StreamResponse:
    reading_id = valid_uuid(request.match_info["reading_id"])
    return await _reading_page(request, _serial(request), reading_id)


@routes.post(READINGS + "/{serial}/{reading_id}")
@console_page(CUSTOMER_SERVICE)
async def decide_reading(request: web.Request) -> web.StreamResponse:
    serial, reading_id = _serial(request), valid_uuid(request.match_info["reading_id"])
    form = await read_form(request)
    await _decide(request, f"{API}/readings/{reading_id}/decision", form, READINGS)
    return await _reading_page(request, serial, reading_id, form, status=422)
