"""Pages of the customer portal: correspondence (``/korespondencja``).

The history of what the customer sent, a page per case (replies, attachments, the reply
deadline with the days left), and sending a new document: first the kind (one question per
page), then that kind's own form with attachments. The five kinds and their fields are the
correspondence service's (``documents.py``); the form's names are ours and each refusal of
the API is mapped back to the field it concerns.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from ebok_shared import filetypes
from ebok_shared.addresses import valid_email

from .access import api, customer_page, session_of
from .formatting import counted, date, datetime, plural
from .forms import Form, read_form, require
from .rendering import redirect, render
from .sections import read_only
from .submissions import (
    KEY_FIELD,
    Upload,
    json_part,
    key_of,
    multipart,
    new_key,
    post_once,
    section_notice,
    uploads,
    valid_uuid,
)
from .typed import parse_day, today

routes = web.RouteTableDef()

PAGE_SIZE = 10
ATTACHMENTS_MAX = 5
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
ATTACHMENT_TYPES = ("application/pdf", "image/jpeg", "image/png")
ATTACHMENTS_HINT = (
    "Najwyżej 5 plików PDF, JPEG lub PNG, każdy do 10 MB. Aby wybrać kilka plików, "
    "przytrzymaj Ctrl (na Macu: Cmd)."
)
PHONE_RE = re.compile(r"^\+?[0-9 ()-]+$")
POSTAL_RE = re.compile(r"^\d{2}-\d{3}$")
INVOICE_RE = re.compile(r"^\d{10,20}$")
SERIAL_RE = re.compile(r"^[A-Z0-9-]{3,30}$")
TIME_RE = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True)
class Kind:
    api: str
    label: str  # the kind as the chooser names it
    title: str  # its form's page title
    hint: str


KINDS: dict[str, Kind] = {
    "awaria": Kind(
        "failure_report",
        "Zgłoszenie awarii",
        "Zgłoszenie awarii",
        "Wyciek, brak wody, uszkodzona studzienka lub hydrant. W nagłych przypadkach "
        "zadzwoń też pod numer alarmowy 994.",
    ),
    "jakosc-wody": Kind(
        "water_quality_complaint",
        "Skarga na jakość wody",
        "Skarga na jakość wody",
        "Barwa, zapach, smak, mętność, osad lub ciśnienie wody. Odpowiemy w ciągu 14 dni.",
    ),
    "zmiana-danych": Kind(
        "data_change",
        "Zmiana danych strony umowy",
        "Zmiana danych strony umowy",
        "Nowe nazwisko lub nazwa, adres, adres do korespondencji, telefon lub e-mail.",
    ),
    "reklamacja": Kind(
        "reklamacja",
        "Reklamacja faktury lub odczytu",
        "Reklamacja faktury lub odczytu",
        "Gdy nie zgadzasz się z fakturą lub odczytem wodomierza. Odpowiemy w ciągu 14 dni.",
    ),
    "pismo": Kind("letter", "Inne pismo", "Pismo", "Wniosek, pytanie lub inna sprawa."),
}
WATER_PROBLEMS = (
    ("colour", "barwa"),
    ("smell", "zapach"),
    ("taste", "smak"),
    ("pressure", "ciśnienie"),
    ("turbidity", "mętność"),
    ("sediment", "osad"),
    ("other", "inne"),
)
ADDRESSES = (("address", "address"), ("corr", "correspondence_address"))
ADDRESS_PARTS = (
    ("street", "Ulica i numer"),
    ("postal_code", "Kod pocztowy"),
    ("city", "Miejscowość"),
)
# API field → form field (the rest map by their first part: "attachments.2" → "attachments").
API_FIELDS = {
    "since": "since_date",
    "changes": "name",
    "changes.name": "name",
    "changes.phone": "phone",
    "changes.email": "email",
    **{
        f"changes.{api_name}{part}": f"{form_name}_{name}"
        for form_name, api_name in ADDRESSES
        for part, name in [("", "street")] + [(f".{p}", p) for p, _ in ADDRESS_PARTS]
    },
}
STATUS_TAGS = {"received": "neutral", "in_progress": "warn", "answered": "ok", "closed": "neutral"}


def _kind(request: web.Request) -> tuple[str, Kind]:
    slug = request.match_info["kind"]
    if slug not in KINDS:
        raise web.HTTPNotFound()
    return slug, KINDS[slug]


def deadline_text(due: str | None, status: str) -> str | None:
    """ "20 grudnia 2026 (zostało 14 dni)"; "dziś"; "termin minął 2 dni temu"."""
    if not due:
        return None
    shown = date(due)
    if status in ("answered", "closed"):
        return shown
    left = (dt.date.fromisoformat(due[:10]) - today()).days
    if left > 0:
        verb = plural(left, "został", "zostały", "zostało")
        return f"{shown} ({verb} {counted(left, 'dzień', 'dni', 'dni')})"
    if left == 0:
        return f"{shown} (termin upływa dziś)"
    return f"{shown} (termin minął {counted(-left, 'dzień', 'dni', 'dni')} temu)"


# -- history and the case page ------------------------------------------------------------


@routes.get("/korespondencja")
@customer_page()
async def history(request: web.Request) -> web.StreamResponse:
    page = request.query.get("page", "1")
    page = page if page.isdigit() and 0 < int(page) < 100000 else "1"
    reply = await api(request).get(
        "/me/correspondence", params={"page": page, "page_size": str(PAGE_SIZE)}
    )
    cases, notice = None, None
    if reply.ok:
        cases = reply.json()
    else:
        notice = section_notice(reply) or "Nie udało się pobrać historii korespondencji."
    return render(
        request,
        "correspondence/history.html",
        title="Korespondencja",
        cases=cases,
        notice=notice,
        tags=STATUS_TAGS,
        deadline=deadline_text,
        read_only=await read_only(request, "correspondence"),
    )


def _since(raw: str) -> str:
    """A date, or a date with the hour as the customer gave it (local time, no zone)."""
    if len(raw) <= 10:
        return date(raw)
    if re.search(r"(Z|[+-]\d{2}:\d{2})$", raw):
        return datetime(raw)
    return f"{date(raw[:10])}, godz. {raw[11:16]}"


def details_of(kind: str, details: dict[str, Any]) -> list[tuple[str, str]]:
    """What the customer wrote, as (label, text) in the form's order."""
    shown: list[tuple[str, str]] = []

    def add(label: str, value: Any) -> None:
        if value not in (None, "", [], {}):
            shown.append((label, str(value)))

    if kind in ("failure_report", "water_quality_complaint"):
        add("Miejsce", details.get("place"))
        problems = dict(WATER_PROBLEMS)
        add("Problem", ", ".join(problems.get(p, p) for p in details.get("problems", [])))
        add("Opis", details.get("description"))
        add("Od kiedy", _since(str(details.get("since") or "")) if details.get("since") else None)
    elif kind == "data_change":
        changes = details.get("changes") or {}
        add("Imię i nazwisko lub nazwa", changes.get("name"))
        for label, key in (
            ("Adres", "address"),
            ("Adres do korespondencji", "correspondence_address"),
        ):
            address = changes.get(key)
            if address:
                add(
                    label,
                    f"{address.get('street')}, {address.get('postal_code')} {address.get('city')}",
                )
        add("Telefon", changes.get("phone"))
        add("E-mail", changes.get("email"))
        add("Uwagi", details.get("comment"))
    elif kind == "reklamacja":
        add("Faktura", details.get("invoice_number"))
        add("Wodomierz", details.get("meter_serial"))
        add("Uzasadnienie", details.get("reason"))
    else:
        add("Temat", details.get("subject"))
        add("Treść", details.get("content"))
    return shown


# -- a new document ------------------------------------------------------------------------


@routes.get("/korespondencja/nowa")
@customer_page()
async def choose(request: web.Request) -> web.StreamResponse:
    return render(
        request,
        "correspondence/choose.html",
        title="Nowe pismo",
        form=Form(),
        kinds=KINDS,
        read_only=await read_only(request, "correspondence"),
    )


@routes.post("/korespondencja/nowa")
@customer_page()
async def chosen(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    if form.value("kind") in KINDS:
        redirect(f"/korespondencja/nowa/{form.value('kind')}")
    form.error("kind", "Wybierz, jakie pismo chcesz wysłać.")
    return render(
        request,
        "correspondence/choose.html",
        title="Nowe pismo",
        form=form,
        kinds=KINDS,
        status=422,
    )


async def _form_page(
    request: web.Request, slug: str, kind: Kind, form: Form, status: int = 200
) -> web.StreamResponse:
    if KEY_FIELD not in form.values or form.invalid:
        form.values[KEY_FIELD] = new_key()
    return render(
        request,
        "correspondence/new.html",
        title=kind.title,
        status=status,
        read_only=await read_only(request, "correspondence"),
        slug=slug,
        kind=kind,
        form=form,
        water_problems=WATER_PROBLEMS,
        address_parts=ADDRESS_PARTS,
        attachments_hint=ATTACHMENTS_HINT,
        chosen_problems=form.value("problems").split(","),
    )


@routes.get("/korespondencja/nowa/{kind}")
@customer_page()
async def new(request: web.Request) -> web.StreamResponse:
    slug, kind = _kind(request)
    form = Form()
    about = request.query.get("sprawa", "")
    if kind.api == "letter" and re.fullmatch(r"[A-Z]+/\d{4}/\d{6}", about):
        form.values["subject"] = f"Uzupełnienie do sprawy {about}"
    return await _form_page(request, slug, kind, form)


def _phone(form: Form, name: str, required: bool) -> str | None:
    value = form.value(name)
    if not value:
        if required:
            form.error(name, "Podaj numer telefonu, pod którym się z Tobą skontaktujemy.")
        return None
    digits = re.sub(r"\D", "", value)
    if not PHONE_RE.match(value) or not 9 <= len(digits) <= 15:
        form.error(name, "Podaj numer telefonu: 9–15 cyfr, np. 600 100 200.")
    return value


def _since_value(form: Form) -> str | None:
    """The day (and, if given, the hour) the problem started, as the API takes it."""
    day, problem = parse_day(form.value("since_date"), "wystąpienia problemu")
    if problem:
        form.error("since_date", problem)
    time = form.value("since_time")
    if time and not TIME_RE.match(time):
        form.error("since_time", "Podaj godzinę w formacie GG:MM, np. 7:30.")
        return None
    if day is None or not time:
        return day
    hours, minutes = time.split(":")
    return f"{day}T{int(hours):02d}:{minutes}"


def _document(form: Form, kind: Kind, problems: list[str]) -> dict[str, Any]:
    """The API's document for the kind from the form (errors go into ``form``)."""
    doc: dict[str, Any] = {"kind": kind.api}
    if kind.api in ("failure_report", "water_quality_complaint"):
        require(form, "place", message="Podaj miejsce, np. adres lub punkt poboru wody.")
        doc["place"] = form.value("place")
        if kind.api == "failure_report":
            require(form, "description", message="Opisz, co się dzieje.")
        elif not problems:
            form.error("problems", "Zaznacz, co jest nie tak z wodą.")
        elif "other" in problems and not form.value("description"):
            form.error("description", "Opisz problem, gdy zaznaczono „inne”.")
        if problems:
            doc["problems"] = problems
        if form.value("description"):
            doc["description"] = form.value("description")
        doc["since"] = _since_value(form)
    elif kind.api == "data_change":
        changes: dict[str, Any] = {}
        for name in ("name", "phone", "email"):
            if form.value(name):
                changes[name] = form.value(name)
        if "phone" in changes:
            _phone(form, "phone", required=False)
        if "email" in changes and not valid_email(changes["email"]):
            form.error("email", "Podaj adres e-mail, np. jan.kowalski@example.pl.")
        for form_name, api_name in ADDRESSES:
            parts = {p: form.value(f"{form_name}_{p}") for p, _ in ADDRESS_PARTS}
            if any(parts.values()):
                for part, label in ADDRESS_PARTS:
                    if not parts[part]:
                        form.error(
                            f"{form_name}_{part}", f"{label}: podaj całą nową wartość adresu."
                        )
                if parts["postal_code"] and not POSTAL_RE.match(parts["postal_code"]):
                    form.error(f"{form_name}_postal_code", "Podaj kod pocztowy, np. 00-950.")
                changes[api_name] = parts
        if not changes:
            form.error("name", "Podaj co najmniej jedną nową wartość.")
        doc["changes"] = changes
        if form.value("comment"):
            doc["comment"] = form.value("comment")
    elif kind.api == "reklamacja":
        about = form.value("about")
        if about == "invoice":
            number = form.value("invoice_number").replace(" ", "")
            if not number:
                form.error("invoice_number", "Podaj numer faktury.")
            elif not INVOICE_RE.match(number):
                form.error("invoice_number", "Numer faktury to 10–20 cyfr.")
            doc["invoice_number"] = number
        elif about == "reading":
            serial = form.value("meter_serial").replace(" ", "").upper()
            form.values["meter_serial"] = serial
            if not serial:
                form.error("meter_serial", "Podaj numer wodomierza.")
            elif not SERIAL_RE.match(serial):
                form.error("meter_serial", "Numer wodomierza to wielkie litery, cyfry i myślniki.")
            doc["meter_serial"] = serial
        else:
            form.error("about", "Wybierz, czego dotyczy reklamacja.")
        require(form, "reason", message="Napisz, dlaczego składasz reklamację.")
        doc["reason"] = form.value("reason")
    else:
        require(form, "subject", message="Podaj temat pisma.")
        require(form, "content", message="Napisz treść pisma.")
        doc["subject"] = form.value("subject")
        doc["content"] = form.value("content")
    phone = _phone(form, "contact_phone", required=kind.api == "failure_report")
    if phone:
        doc["contact_phone"] = phone
    return doc


def _check_files(form: Form, files: list[Upload]) -> None:
    if len(files) > ATTACHMENTS_MAX:
        form.error("attachments", f"Możesz dołączyć najwyżej {ATTACHMENTS_MAX} plików.")
    for upload in files:
        if not upload.data:
            form.error("attachments", f"Plik „{upload.filename}” jest pusty.")
        elif len(upload.data) > ATTACHMENT_MAX_BYTES:
            form.error("attachments", f"Plik „{upload.filename}” jest za duży: najwyżej 10 MB.")
        elif filetypes.sniff(upload.data, ATTACHMENT_TYPES) is None:
            form.error(
                "attachments", f"Plik „{upload.filename}” nie jest plikiem PDF, JPEG ani PNG."
            )


@routes.post("/korespondencja/nowa/{kind}")
@customer_page()
async def send(request: web.Request) -> web.StreamResponse:
    slug, kind = _kind(request)
    form = await read_form(request)
    data = await request.post()
    problems = [p for p in data.getall("problems", []) if isinstance(p, str)]
    form.values["problems"] = ",".join(problems)
    files = uploads(data, "attachments")
    document = _document(form, kind, problems)
    _check_files(form, files)
    if form.invalid:
        if files:
            form.error("attachments", "Wybierz pliki ponownie: przeglądarka ich nie zachowuje.")
        return await _form_page(request, slug, kind, form, status=422)
    key = key_of(form.values)
    if files:
        body = multipart([("document", json_part(document), "application/json")], files, key)
        reply = await post_once(api(request), "/me/correspondence", key, data=body)
    else:
        reply = await post_once(api(request), "/me/correspondence", key, json_body=document)
    if reply.ok:
        sent = reply.json()
        session = session_of(request)
        if session is not None:
            session.flash.append(f"Wysłano. Numer sprawy: {sent['number']}.")
        redirect(f"/korespondencja/{sent['id']}")
    notice = section_notice(reply)
    if notice or reply.code == "section-read-only":
        form.detail = notice or str(reply.problem.get("detail"))
    else:
        form.take_problem(reply.problem, API_FIELDS, known=_form_fields(kind))
    if files:
        form.error("attachments", "Wybierz pliki ponownie: przeglądarka ich nie zachowuje.")
    return await _form_page(request, slug, kind, form, status=422)


def _form_fields(kind: Kind) -> tuple[str, ...]:
    common = ("contact_phone", "attachments")
    own = {
        "failure_report": ("place", "description", "since_date", "since_time"),
        "water_quality_complaint": ("place", "problems", "description", "since_date", "since_time"),
        "data_change": (
            "name",
            *(f"{f}_{p}" for f, _ in ADDRESSES for p, _ in ADDRESS_PARTS),
            "phone",
            "email",
            "comment",
        ),
        "reklamacja": ("about", "invoice_number", "meter_serial", "reason"),
        "letter": ("subject", "content"),
    }
    return (*own[kind.api], *common)


# -- the case page (after /korespondencja/nowa: routes match in this order) ------------


@routes.get("/korespondencja/{case_id}")
@customer_page()
async def case(request: web.Request) -> web.StreamResponse:
    case_id = valid_uuid(request.match_info["case_id"])
    reply = await api(request).get(f"/me/correspondence/{case_id}")
    if reply.status == 404:
        raise web.HTTPNotFound()
    if not reply.ok:
        notice = section_notice(reply) or "Nie udało się pobrać sprawy."
        return render(request, "correspondence/case.html", title="Sprawa", case=None, notice=notice)
    found = reply.json()
    return render(
        request,
        "correspondence/case.html",
        title=f"Sprawa {found['number']}",
        case=found,
        notice=None,
        details=details_of(found["kind"], found.get("details") or {}),
        deadline=deadline_text(found.get("reply_due"), found["status"]),
        tags=STATUS_TAGS,
    )


@routes.get("/korespondencja/{case_id}/zalaczniki/{attachment_id}")
@customer_page()
async def attachment(request: web.Request) -> web.StreamResponse:
    case_id = valid_uuid(request.match_info["case_id"])
    attachment_id = valid_uuid(request.match_info["attachment_id"])
    reply = await api(request).get(f"/me/correspondence/{case_id}/attachments/{attachment_id}")
    if reply.status == 404:
        raise web.HTTPNotFound()
    if not reply.ok:
        notice = section_notice(reply) or "Nie udało się pobrać załącznika."
        return render(
            request, "correspondence/case.html", title="Załącznik", case=None, notice=notice
        )
    disposition = reply.headers.get("Content-Disposition") or 'attachment; filename="zalacznik"'
    return web.Response(
        body=reply.body,
        headers={
            "Content-Type": reply.headers.get("Content-Type", "application/octet-stream"),
            "Content-Disposition": disposition,
            "Cache-Control": "no-store",
        },
    )
