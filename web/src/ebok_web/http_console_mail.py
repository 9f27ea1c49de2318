"""The console's e-mails (customer service): deliveries that failed, with the mail
server's answer, and sending one again (the same message, a fresh retry deadline)."""

from __future__ import annotations

from aiohttp import web

from .access import api
from .console import checked, console_page, done
from .forms import Form
from .operator_roles import CUSTOMER_SERVICE
from .rendering import render

routes = web.RouteTableDef()

MAIL = "/operator/wiadomosci"
STATUSES = (
    ("failed", "Nieudane"),
    ("pending", "Czekają na wysyłkę"),
    ("sent", "Wysłane"),
    ("", "Wszystkie"),
)
STATUS_NAMES = {
    "pending": "czeka",
    "sending": "w wysyłce",
    "sent": "wysłana",
    "failed": "nieudana",
    "cancelled": "anulowana",
}


@routes.get(MAIL)
@console_page(CUSTOMER_SERVICE)
async def deliveries(request: web.Request) -> web.StreamResponse:
    return await _mail_page(request)


async def _mail_page(request: web.Request, error: str | None = None) -> web.Response:
    status = request.query.get("status", "failed")
    status = status if status in dict(STATUSES) else "failed"
    params = {"status": status, "limit": "50"}
    before = request.query.get("before_id", "")
    if before.isdigit():
        params["before_id"] = before
    reply = checked(await api(request).get("/operator/notifier/deliveries", params=params))
    return render(
        request,
        "console/mail.html",
        title="E-maile",
        found=reply.json() if reply.ok else None,
        filters=Form(values={"status": status}),
        statuses=STATUSES,
        names=STATUS_NAMES,
        status_filter=status,
        error=error,
        status=422 if error else 200,
    )


@routes.post(MAIL + "/{delivery_id:\\d{1,18}}")
@console_page(CUSTOMER_SERVICE)
async def resend(request: web.Request) -> web.StreamResponse:
    delivery_id = request.match_info["delivery_id"]
    reply = checked(await api(request).post(f"/operator/notifier/deliveries/{delivery_id}/resend"))
    if reply.status == 404:
        raise web.HTTPNotFound()
    if reply.ok:
        done(request, f"Wiadomość {delivery_id} zostanie wysłana ponownie.", MAIL)
    return await _mail_page(
        request, str(reply.problem.get("detail") or "Nie udało się ponowić wysyłki.")
    )
