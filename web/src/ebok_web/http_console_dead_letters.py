"""The console's dead letters (role ``admin``): the messages each service's queue could not
handle, parked in its dead-letter queue; one looked at (type, error, body), re-driven back to
its queue one at a time or all at once (after the cause is fixed)."""

from __future__ import annotations

import re

from aiohttp import web

from .access import api
from .console import checked, console_page, done
from .operator_roles import ADMIN
from .rendering import render

routes = web.RouteTableDef()

DEAD_LETTERS = "/operator/martwe-wiadomosci"
SERVICES = (
    ("auth", "Konta i logowanie"),
    ("billing", "Rozliczenia"),
    ("readings", "Odczyty"),
    ("correspondence", "Korespondencja"),
    ("notifier", "Powiadomienia"),
)
SERVICE = "{service:" + "|".join(name for name, _ in SERVICES) + "}"
MESSAGE = "{message_id:[A-Za-z0-9._:-]{1,128}}"
SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _service(request: web.Request) -> str:
    chosen = request.match_info.get("service") or request.query.get("service", "")
    return chosen if chosen in dict(SERVICES) else SERVICES[0][0]


@routes.get(DEAD_LETTERS)
@console_page(ADMIN)
async def dead_letters(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    reply = checked(
        await api(request).get(f"/operator/{service}/dead-letters", params={"limit": "100"})
    )
    return render(
        request,
        "console/dead_letters.html",
        title="Martwe wiadomości",
        service=service,
        services=SERVICES,
        found=reply.json() if reply.ok else None,
    )


@routes.get(f"{DEAD_LETTERS}/{SERVICE}/{MESSAGE}")
@console_page(ADMIN)
async def dead_letter(request: web.Request) -> web.StreamResponse:
    service, message_id = request.match_info["service"], request.match_info["message_id"]
    reply = checked(await api(request).get(f"/operator/{service}/dead-letters/{message_id}"))
    if reply.status == 404:
        raise web.HTTPNotFound()
    return render(
        request,
        "console/dead_letter.html",
        title="Martwa wiadomość",
        service=service,
        service_name=dict(SERVICES)[service],
        item=reply.json() if reply.ok else None,
        message_id=message_id,
    )


@routes.post(f"{DEAD_LETTERS}/{SERVICE}/{MESSAGE}")
@console_page(ADMIN)
async def redrive_one(request: web.Request) -> web.StreamResponse:
    service, message_id = request.match_info["service"], request.match_info["message_id"]
    reply = checked(
        await api(request).post(f"/operator/{service}/dead-letters/{message_id}/redrive")
    )
    back = f"{DEAD_LETTERS}?service={service}"
    if reply.ok:
        done(request, f"Wiadomość {message_id} wróciła do kolejki.", back)
    done(request, "Tej wiadomości nie ma już w kolejce martwych wiadomości.", back)


@routes.post(f"{DEAD_LETTERS}/{SERVICE}")
@console_page(ADMIN)
async def redrive_all(request: web.Request) -> web.StreamResponse:
    service = request.match_info["service"]
    reply = checked(await api(request).post(f"/operator/{service}/dead-letters/redrive"))
    back = f"{DEAD_LETTERS}?service={service}"
    if reply.ok:
        done(request, f"Do kolejki wróciło wiadomości: {reply.json()['moved']}.", back)
    done(request, "Nie udało się przenieść wiadomości. Spróbuj ponownie.", back)
