"""The console's content (role ``content``): the terms — write a new version, preview the
changed clauses side by side, publish it with the notice period (at least 14 days, terms
IV.2), then follow the e-mail campaign telling every user (sent, failed, left) — and the
portal's sections (on, read-only, off, hidden with the message customers see; single items
hidden; the history of changes, terms IV.1)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from urllib.parse import quote

from aiohttp import web

from .access import api, session_of
from .console import checked, console_page, done
from .formatting import WARSAW, date
from .forms import Form, read_form
from .http_public import changed_clauses
from .operator_roles import BILLING, CONTENT, may
from .rendering import render
from .typed import today

routes = web.RouteTableDef()

TERMS = "/operator/regulamin"
PORTAL = "/operator/portal"
NOTICE_DAYS = 14  # terms IV.2: users are told at least 14 days before a change
MODES = (
    ("on", "Włączona", None),
    ("read_only", "Tylko do odczytu", "Klienci widzą dane, ale nie wyślą formularzy."),
    ("off", "Wyłączona", "Klienci widzą tylko komunikat."),
    ("hidden", "Ukryta", "Sekcja znika z menu portalu."),
)
MODE_NAMES = {value: label for value, label, _ in MODES}


# -- terms ---------------------------------------------------------------------------------------


async def _campaigns(request: web.Request) -> list[dict[str, Any]] | None:
    """The newest campaigns with their progress (the notifier's)."""
    listing = checked(await api(request).get("/operator/notifier/campaigns", params={"limit": "5"}))
    if not listing.ok:
        return None
    items = listing.json()["items"]
    replies = await asyncio.gather(
        *(api(request).get(f"/operator/notifier/campaigns/{c['id']}") for c in items)
    )
    return [r.json() if r.ok else c for c, r in zip(items, replies, strict=True)]


async def _terms_page(
    request: web.Request, form: Form | None = None, preview: Any = None, status: int = 200
) -> web.Response:
    current = await api(request).get("/regulations/current")
    in_force = current.json() if current.ok else None
    if form is None:
        earliest = earliest_day()
        form = Form(
            values={
                "body": in_force["body"] if in_force else "",
                "effective_on": earliest.isoformat(),
            }
        )
    return render(
        request,
        "console/terms.html",
        title="Regulamin",
        in_force=in_force,
        form=form,
        preview=preview,
        campaigns=await _campaigns(request),
        notice_days=NOTICE_DAYS,
        earliest=earliest_day(),
        status=status,
    )


@routes.get(TERMS)
@console_page(CONTENT)
async def terms_page(request: web.Request) -> web.StreamResponse:
    return await _terms_page(request)


def earliest_day() -> dt.date:
    """The first midnight (Warsaw) at least ``NOTICE_DAYS`` whole days from now."""
    return today() + dt.timedelta(days=NOTICE_DAYS + 1)


def _check_draft(form: Form) -> str | None:
    """The effective moment (midnight in Warsaw) of a valid draft; errors into ``form``."""
    if len(form.value("body")) < 100:
        form.error("body", "Treść regulaminu musi mieć co najmniej 100 znaków.")
    if len(form.value("summary")) < 3:
        form.error(
            "summary", "Opisz zmiany w kilku słowach (co najmniej 3 znaki): trafią do e-maila."
        )
    try:
        day = dt.date.fromisoformat(form.value("effective_on"))
    except ValueError:
        form.error("effective_on", "Podaj datę wejścia w życie w formacie RRRR-MM-DD.")
        return None
    if day < earliest_day():
        form.error(
            "effective_on",
            f"Zmiana może wejść w życie najwcześniej {date(earliest_day())}: "
            f"użytkownicy muszą mieć {NOTICE_DAYS} pełnych dni na zapoznanie się z nią "
            "(pkt IV.2 Regulaminu).",
        )
        return None
    return dt.datetime.combine(day, dt.time.min, tzinfo=WARSAW).isoformat()


async def _preview(request: web.Request, body: str) -> list[dict[str, Any]] | None:
    """The draft's changed clauses as auth compares them with the text in force (nothing
    stored); none when auth cannot read the draft (its errors come with publishing)."""
    reply = checked(
        await api(request).post("/operator/auth/regulations/preview", json_body={"body": body})
    )
    return changed_clauses(reply.json()) if reply.ok else None


@routes.post(TERMS)
@console_page(CONTENT)
async def publish(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    effective = _check_draft(form)
    preview = await _preview(request, form.value("body"))
    if form.value("action") != "publish" or form.invalid:
        return await _terms_page(request, form, preview, status=422 if form.invalid else 200)
    body = {
        "body": form.value("body"),
        "summary": form.value("summary"),
        "effective_from": effective,
    }
    reply = checked(await api(request).post("/operator/auth/regulations", json_body=body))
    if reply.ok:
        published = reply.json()
        done(
            request,
            f"Opublikowano wersję {published['version']}. Użytkownicy dostaną e-mail o zmianie.",
            TERMS,
        )
    form.take_problem(
        reply.problem, {"effective_from": "effective_on"}, known=("body", "summary", "effective_on")
    )
    return await _terms_page(request, form, preview, status=422)


# -- portal sections -----------------------------------------------------------------------------


async def _portal_page(
    request: web.Request, forms: dict[str, Form] | None = None, status: int = 200
) -> web.Response:
    settings, history = await asyncio.gather(
        api(request).get("/operator/portal-settings"),
        api(request).get("/operator/portal-settings/history"),
    )
    checked(settings)
    found = settings.json() if settings.ok else None
    sections = found["sections"] if found else []
    shown_forms = {
        s["section"]: Form(
            values={
                f"mode-{s['section']}": s["mode"],
                f"message-{s['section']}": s["message"] or "",
            }
        )
        for s in sections
    }
    shown_forms["item"] = Form()
    shown_forms.update(forms or {})
    return render(
        request,
        "console/portal.html",
        title="Sekcje portalu",
        found=found,
        forms=shown_forms,
        modes=MODES,
        mode_names=MODE_NAMES,
        section_options=[(s["section"], s["name"]) for s in sections],
        may_hide=may(session_of(request), BILLING),
        history=history.json()["items"] if history.ok else None,
        status=status,
    )


@routes.get(PORTAL)
@console_page(CONTENT)
async def portal_page(request: web.Request) -> web.StreamResponse:
    return await _portal_page(request)


@routes.post(PORTAL + "/sekcje/{section}")
@console_page(CONTENT)
async def set_section(request: web.Request) -> web.StreamResponse:
    section = request.match_info["section"]
    if not section.replace("_", "").isalpha() or len(section) > 40:
        raise web.HTTPNotFound()
    form = await read_form(request)
    mode = form.value(f"mode-{section}")
    message = form.value(f"message-{section}")
    if mode not in MODE_NAMES:
        form.error(f"mode-{section}", "Wybierz stan sekcji.")
    elif mode != "on" and not message:
        form.error(f"message-{section}", "Napisz komunikat, który zobaczą klienci.")
    if not form.invalid:
        body = {"mode": mode, "message": message or None}
        reply = checked(
            await api(request).put(f"/operator/portal-settings/sections/{section}", json_body=body)
        )
        if reply.status == 404:
            raise web.HTTPNotFound()
        if reply.ok:
            done(request, f"Zapisano: sekcja jest teraz „{MODE_NAMES[mode].lower()}”.", PORTAL)
        form.take_problem(
            reply.problem,
            {"mode": f"mode-{section}", "message": f"message-{section}"},
            known=(f"mode-{section}", f"message-{section}"),
        )
    return await _portal_page(request, {section: form}, status=422)


@routes.post(PORTAL + "/pozycje")
@console_page(BILLING)  # hiding a single invoice or contract is the billing team's
async def set_item(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    section, item_id = form.value("item_section"), form.value("item_id")
    hidden = form.value("hidden") != "0"
    if not section:
        form.error("item_section", "Wybierz sekcję.")
    if not item_id:
        form.error("item_id", "Podaj numer pozycji (np. numer faktury albo umowy).")
    elif len(item_id) > 64:
        form.error("item_id", "Numer pozycji może mieć najwyżej 64 znaki.")
    if not form.invalid:
        path = f"/operator/portal-settings/sections/{section}/items/{quote(item_id, safe='')}"
        reply = checked(await api(request).put(path, json_body={"hidden": hidden}))
        if reply.ok:
            what = "ukryta przed klientami" if hidden else "znów widoczna dla klientów"
            done(request, f"Pozycja {item_id} jest {what}.", PORTAL)
        form.take_problem(reply.problem, {"item_id": "item_id"}, known=("item_id", "item_section"))
    return await _portal_page(request, {"item": form}, status=422)
