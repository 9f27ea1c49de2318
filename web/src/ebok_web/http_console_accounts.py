"""The console's accounts (customer service): search by client number or e-mail, one
account's view (state, live sessions, a scheduled block, recent audit events), block and
unblock with a reason (terms IV.3, II.7), deletion on the customer's request (II.6) with
auth's explainer of what is erased and what is kept; and the audit log with filters."""

from __future__ import annotations

import datetime as dt
import re

from aiohttp import web

from .access import api
from .console import checked, console_page, done
from .formatting import WARSAW
from .forms import Form, read_form
from .operator_roles import CUSTOMER_SERVICE
from .rendering import render

routes = web.RouteTableDef()

ACCOUNTS = "/operator/konta"
AUDIT = "/operator/dziennik"
API = "/operator/auth/accounts"
PAGE_SIZE = 25
CLIENT_NUMBER = re.compile(r"^\d{6}$")
STATUS_FILTERS = (
    ("", "Wszystkie"),
    ("active", "Aktywne"),
    ("pending", "Nieaktywowane"),
    ("blocked", "Zablokowane"),
)
STATUS_NAMES = {
    "active": ("aktywne", "ok"),
    "pending": ("czeka na aktywację", "neutral"),
    "blocked": ("zablokowane", "bad"),
}
# action → (the API's tail, the success message)
ACTIONS = {
    "blokada": ("block", "Konto zablokowane. Klient nie zaloguje się, dopóki go nie odblokujesz."),
    "odblokowanie": ("unblock", "Konto odblokowane."),
    "usuniecie": ("deletion", "Konto usunięte na żądanie klienta."),
}


@routes.get(ACCOUNTS)
@console_page(CUSTOMER_SERVICE)
async def search(request: web.Request) -> web.StreamResponse:
    q = request.query.get("q", "").strip()[:100]
    status = request.query.get("status", "")
    status = status if status in dict(STATUS_FILTERS) else ""
    page = request.query.get("page", "1")
    page_no = int(page) if page.isdigit() and 0 < int(page) < 10000 else 1
    params = {"q": q, "status": status, "limit": str(PAGE_SIZE)}
    params["offset"] = str((page_no - 1) * PAGE_SIZE)
    found = None
    if q or status:
        reply = checked(await api(request).get(API, params=params))
        found = reply.json() if reply.ok else {"unavailable": True}
    return render(
        request,
        "console/accounts.html",
        title="Konta klientów",
        filters=Form(values={"q": q, "status": status}),
        status_filters=STATUS_FILTERS,
        statuses=STATUS_NAMES,
        found=found,
        page=page_no,
        page_size=PAGE_SIZE,
        query={k: v for k, v in (("q", q), ("status", status)) if v},
    )


def _client(request: web.Request) -> str:
    number = request.match_info["client_number"]
    if not CLIENT_NUMBER.match(number):
        raise web.HTTPNotFound()
    return number


async def _account_page(
    request: web.Request, client: str, forms: dict[str, Form] | None = None, status: int = 200
) -> web.Response:
    reply = checked(await api(request).get(f"{API}/{client}"))
    if reply.status == 404:
        raise web.HTTPNotFound()
    events = checked(
        await api(request).get("/operator/auth/audit", params={"subject": client, "limit": "20"})
    )
    explainer = checked(await api(request).get("/operator/auth/deletion-terms"))
    return render(
        request,
        "console/account.html",
        title=f"Konto klienta {client}",
        client=client,
        account=reply.json() if reply.ok else None,
        events=events.json()["items"] if events.ok else None,
        deletion_terms=explainer.json() if explainer.ok else None,
        statuses=STATUS_NAMES,
        forms={"block": Form(), "unblock": Form(), "delete": Form()} | (forms or {}),
        status=status,
    )


@routes.get(ACCOUNTS + "/{client_number}")
@console_page(CUSTOMER_SERVICE)
async def account(request: web.Request) -> web.StreamResponse:
    return await _account_page(request, _client(request))


FORM_OF = {"blokada": "block", "odblokowanie": "unblock", "usuniecie": "delete"}


@routes.post(ACCOUNTS + "/{client_number}/{action}")
@console_page(CUSTOMER_SERVICE)
async def act(request: web.Request) -> web.StreamResponse:
    client = _client(request)
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise web.HTTPNotFound()
    tail, message = ACTIONS[action]
    name = FORM_OF[action]
    field = f"{name}_reason"
    form = await read_form(request)
    reason = form.value(field)
    if not reason:
        form.error(field, "Podaj powód – zostanie zapisany w dzienniku zdarzeń.")
    elif len(reason) > 500:
        form.error(field, "Powód może mieć najwyżej 500 znaków.")
    if action == "usuniecie" and not form.value("confirm"):
        form.error("confirm", "Potwierdź, że klient zażądał usunięcia konta.")
    if not form.invalid:
        reply = checked(
            await api(request).post(f"{API}/{client}/{tail}", json_body={"reason": reason})
        )
        if reply.ok:
            done(request, message, ACCOUNTS if action == "usuniecie" else f"{ACCOUNTS}/{client}")
        form.take_problem(reply.problem, {"reason": field}, known=(field,))
    return await _account_page(request, client, {name: form}, status=422)


# -- the audit log -------------------------------------------------------------------------------


def _iso_day(raw: str, end: bool) -> str | None:
    """A day typed as RRRR-MM-DD → the API's moment (the day's start or end, Warsaw)."""
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        return None
    moment = dt.datetime.combine(day, dt.time.max if end else dt.time.min, tzinfo=WARSAW)
    return moment.isoformat()


@routes.get(AUDIT)
@console_page(CUSTOMER_SERVICE)
async def audit_log(request: web.Request) -> web.StreamResponse:
    q = request.query
    filters = Form(
        values={
            k: q.get(k, "").strip()[:100] for k in ("subject", "type", "actor", "since", "until")
        }
    )
    params = {k: filters.value(k) for k in ("subject", "type", "actor")}
    for name, end in (("since", False), ("until", True)):
        if filters.value(name):
            moment = _iso_day(filters.value(name), end)
            if moment is None:
                filters.error(name, "Podaj datę w formacie RRRR-MM-DD.")
            else:
                params[name] = moment
    before = q.get("before_id", "")
    if before.isdigit():
        params["before_id"] = before
    params["limit"] = "50"
    found = None
    if not filters.invalid:
        reply = checked(await api(request).get("/operator/auth/audit", params=params))
        if reply.ok:
            found = reply.json()
        else:
            filters.take_problem(
                reply.problem, known=("subject", "type", "actor", "since", "until")
            )
    return render(
        request,
        "console/audit.html",
        title="Dziennik zdarzeń",
        filters=filters,
        found=found,
        query={k: v for k, v in filters.kept().items() if v},
        status=422 if filters.invalid else 200,
    )
