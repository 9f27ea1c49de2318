"""Pages of the customer portal: readings (``/odczyty``).

The customer's meters with their last reading; a meter's page with the reading form and the
history since the contract date, paged. A reading far above the meter's usual consumption
is refused by the readings service until the customer confirms it: that is a second page,
"Czy na pewno?", whose button sends the same reading again with ``confirm_unusual``. A photo
sent with the first step waits for the second in Redis for a quarter of an hour (not in the
session, which is read and written on every page).
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import quote

from aiohttp import web
from ebok_shared import filetypes

from .access import api, customer_page, session_of
from .forms import Form, read_form
from .keys import STORE
from .rendering import redirect, render
from .sections import read_only
from .sessions import Session
from .submissions import (
    KEY_FIELD,
    Upload,
    key_of,
    multipart,
    new_key,
    post_once,
    section_notice,
    uploads,
)
from .typed import parse_day, parse_value, today

routes = web.RouteTableDef()

SERIAL_RE = re.compile(r"^[A-Z0-9-]{3,30}$")
PAGE_SIZE = 10
PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_TYPES = ("image/jpeg", "image/png")
STASH_SECONDS = 15 * 60
FIELDS = {"value": "value", "read_on": "read_on", "photo": "photo"}

STATUS_TAGS = {
    "accepted": ("przyjęty", "ok"),
    "to_verify": ("do weryfikacji", "warn"),
    "rejected": ("odrzucony", "bad"),
}
SOURCES = {
    "customer": "podany przez Ciebie",
    "inspector": "inkasent",
    "remote": "odczyt zdalny",
    "estimate": "szacunek",
}
ROLES = {"initial": "odczyt początkowy", "regular": "", "final": "odczyt końcowy"}
KINDS = {"main": "główny", "garden": "ogrodowy"}


def meter_path(serial: str) -> str:
    return f"/odczyty/{quote(serial, safe='')}"


def _serial(request: web.Request) -> str:
    serial = request.match_info["serial"]
    if not SERIAL_RE.match(serial):
        raise web.HTTPNotFound()
    return serial


# -- reading the form ---------------------------------------------------------------------


def check_photo(photo: list[Upload]) -> str | None:
    if not photo:
        return None
    if len(photo) > 1:
        return "Dołącz jedno zdjęcie."
    data = photo[0].data
    if not data:
        return "Wybrany plik jest pusty."
    if len(data) > PHOTO_MAX_BYTES:
        return "Zdjęcie może mieć najwyżej 10 MB."
    if filetypes.sniff(data, PHOTO_TYPES) is None:
        return "Zdjęcie musi być plikiem JPEG lub PNG."
    return None


def photo_upload(photo: Upload) -> Upload:
    """The photo with the type its bytes prove (the browser's guess may differ)."""
    kind = filetypes.sniff(photo.data, PHOTO_TYPES)
    assert kind is not None, "checked by photo_problem first"
    return Upload("photo", photo.filename, kind, photo.data)


# -- a photo waiting for the confirmation ---------------------------------------------------


async def stash_photo(request: web.Request, photo: Upload) -> str:
    token = secrets.token_urlsafe(18)
    fields: dict[str, str | bytes] = {
        "name": photo.filename,
        "type": photo.content_type,
        "data": photo.data,
    }
    await request.app[STORE].put_aside(_session(request), "photo:" + token, fields, STASH_SECONDS)
    return token


async def stashed_photo(request: web.Request, token: str) -> Upload | None:
    found = await request.app[STORE].taken_aside(_session(request), "photo:" + token)
    if not found:
        return None

    return Upload("photo", found[b"name"].decode(), found[b"type"].decode(), found[b"data"])


def _session(request: web.Request) -> Session:
    session = session_of(request)
    assert session is not None, "a customer page always has a session"
    return session


# -- pages --------------------------------------------------------------------------------


async def _meters(request: web.Request) -> tuple[dict[str, Any] | None, str | None]:
    reply = await api(request).get("/me/meters")
    if reply.ok:
        return reply.json(), None
    notice = section_notice(reply)
    return None, notice or "Nie udało się pobrać listy wodomierzy."


@routes.get("/odczyty")
@customer_page()
async def readings(request: web.Request) -> web.StreamResponse:
    answer, notice = await _meters(request)
    return render(
        request,
        "readings/meters.html",
        title="Odczyty wodomierzy",
        meters=answer["items"] if answer else [],
        window=answer["reading_window"] if answer else None,
        notice=notice,
        kinds=KINDS,
        tags=STATUS_TAGS,
        meter_path=meter_path,
    )


async def meter_page(
    request: web.Request, serial: str, form: Form, status: int = 200
) -> web.StreamResponse:
    answer, notice = await _meters(request)
    meter = None
    if answer is not None:
        meter = next((m for m in answer["items"] if m["serial"] == serial), None)
        if meter is None:
            return _unknown_meter(request, serial)
    page = request.query.get("page", "1")
    page = page if page.isdigit() and 0 < int(page) < 100000 else "1"
    history, history_notice = None, None
    if meter is not None:
        reply = await api(request).get(
            f"/me/meters/{quote(serial, safe='')}/readings",
            params={"page": page, "page_size": str(PAGE_SIZE)},
        )
        if reply.ok:
            history = reply.json()
        elif reply.status == 404:
            return _unknown_meter(request, serial)
        else:
            history_notice = section_notice(reply) or "Nie udało się pobrać historii odczytów."
    if KEY_FIELD not in form.values or form.invalid:
        form.values[KEY_FIELD] = new_key()  # a refused form is sent again as a new request
    form.values.setdefault("read_on", today().isoformat())
    return render(
        request,
        "readings/meter.html",
        title=f"Wodomierz {serial}",
        status=status,
        read_only=await read_only(request, "readings"),
        serial=serial,
        meter=meter,
        window=answer["reading_window"] if answer else None,
        notice=notice,
        history=history,
        history_notice=history_notice,
        form=form,
        kinds=KINDS,
        tags=STATUS_TAGS,
        sources=SOURCES,
        roles=ROLES,
        action=meter_path(serial),
    )


def _unknown_meter(request: web.Request, serial: str) -> web.StreamResponse:
    return render(
        request,
        "readings/unknown.html",
        title="Nie znaleziono wodomierza",
        status=404,
        serial=serial,
    )


@routes.get("/odczyty/{serial}")
@customer_page()
async def meter(request: web.Request) -> web.StreamResponse:
    return await meter_page(request, _serial(request), Form())


def _check(form: Form, photo: list[Upload]) -> tuple[str | None, str | None]:
    value, problem = parse_value(form.value("value"))
    if problem:
        form.error("value", problem)
    day, problem = parse_day(form.value("read_on"), "odczytu")
    if problem:
        form.error("read_on", problem)
    problem = check_photo(photo)
    if problem:
        form.error("photo", problem)
    return value, day


async def _send(
    request: web.Request,
    serial: str,
    key: str,
    value: str,
    day: str,
    photo: Upload | None,
    confirm: bool,
) -> Any:
    path = f"/me/meters/{quote(serial, safe='')}/readings"
    if photo is None:
        body: dict[str, Any] = {"value": value, "read_on": day}
        if confirm:
            body["confirm_unusual"] = True
        return await post_once(api(request), path, key, json_body=body)
    fields = [("value", value, "text/plain"), ("read_on", day, "text/plain")]
    if confirm:
        fields.append(("confirm_unusual", "true", "text/plain"))
    return await post_once(api(request), path, key, data=multipart(fields, [photo], key))


async def _answered(
    request: web.Request,
    serial: str,
    form: Form,
    reply: Any,
    value: str,
    day: str,
    photo: Upload | None,
) -> web.StreamResponse:
    """The service's answer to a reading: saved, the second step, or what to correct."""
    if reply.ok:
        session = session_of(request)
        if session is not None:
            session.flash.append(str(reply.json().get("message") or "Odczyt przyjęty."))
        redirect(meter_path(serial))
    if reply.status == 404 and reply.code == "meter-not-found":
        return _unknown_meter(request, serial)
    if reply.code == "unusual-consumption":
        token = await stash_photo(request, photo) if photo is not None else ""
        return render(
            request,
            "readings/confirm.html",
            title="Czy na pewno?",
            serial=serial,
            value=value,
            day=day,
            photo=photo,
            photo_ref=token,
            key=new_key(),
            action=meter_path(serial) + "/potwierdzenie",
        )
    notice = section_notice(reply)
    if notice or reply.code in ("reading-window-closed", "section-read-only"):
        form.detail = notice or str(reply.problem.get("detail"))
    else:
        form.take_problem(reply.problem, FIELDS, known=tuple(FIELDS.values()))
    return await meter_page(request, serial, form, status=422)


@routes.post("/odczyty/{serial}")
@customer_page()
async def submit(request: web.Request) -> web.StreamResponse:
    serial = _serial(request)
    form = await read_form(request)
    photo = uploads(await request.post(), "photo")
    value, day = _check(form, photo)
    if form.invalid or value is None or day is None:
        return await meter_page(request, serial, form, status=422)
    chosen = photo_upload(photo[0]) if photo else None
    reply = await _send(request, serial, key_of(form.values), value, day, chosen, confirm=False)
    return await _answered(request, serial, form, reply, value, day, chosen)


@routes.post("/odczyty/{serial}/potwierdzenie")
@customer_page()
async def confirm(request: web.Request) -> web.StreamResponse:
    """The second step: "yes, this is the register" sends it again with the confirmation;
    "correct it" brings back the form with what was typed."""
    serial = _serial(request)
    form = await read_form(request)
    if form.value("action") != "confirm":
        return await meter_page(
            request, serial, Form(values={k: form.value(k) for k in ("value", "read_on")})
        )
    value, day = _check(form, [])
    if form.invalid or value is None or day is None:
        return await meter_page(request, serial, form, status=422)
    photo = None
    if form.value("photo_ref"):
        photo = await stashed_photo(request, form.value("photo_ref"))
        if photo is None:
            form.error("photo", "Minęło zbyt dużo czasu. Dołącz zdjęcie ponownie.")
            return await meter_page(request, serial, form, status=422)
    reply = await _send(request, serial, key_of(form.values), value, day, photo, confirm=True)
    return await _answered(request, serial, form, reply, value, day, photo)
