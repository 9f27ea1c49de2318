"""The console's back office (role ``billing``): a feed batch uploaded (billing's feed, or
readings' readings and meters; CSV or JSON lines) — a batch with a bad row is refused whole,
each bad row shown with its line, field and reason; the history of batches; the rate tables
(NBP reference rates for statutory interest, NBP EUR rates) and tariffs; and the payments to
look into (online payments the back office has not posted, posted ones without an order,
transfers whose title matched nothing)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web
from ebok_shared.feed import format_of_file

from .access import api
from .console import checked, console_page, done, page_number
from .forms import Form, read_form
from .operator_roles import BILLING
from .rendering import render
from .submissions import uploads

routes = web.RouteTableDef()

FEEDS = "/operator/zasilenia"
RATES = "/operator/stawki"
PAYMENTS = "/operator/platnosci"
FEED_MAX_BYTES = 16 * 1024 * 1024  # the gateway's limit for operators' batches
# form value → (the API path, what it is)
FEED_KINDS = {
    "billing": ("/operator/billing/feed/batches", "Rozliczenia (klienci, umowy, faktury, wpłaty)"),
    "readings": ("/operator/readings/feed/readings", "Odczyty wodomierzy"),
    "meters": ("/operator/readings/feed/meters", "Wodomierze"),
}
CONTENT_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson"}
DECIMAL = re.compile(r"^\d{1,6}([.,]\d{1,4})?$")


async def _feeds_page(
    request: web.Request, form: Form | None = None, result: Any = None, status: int = 200
) -> web.Response:
    params = {"page": page_number(request), "page_size": "20"}
    history, readings_history = await asyncio.gather(
        api(request).get("/operator/billing/feed/batches", params=params),
        api(request).get("/operator/readings/feed/batches", params=params),
    )
    checked(history), checked(readings_history)
    return render(
        request,
        "console/feeds.html",
        title="Zasilenia z systemu rozliczeń",
        form=form or Form(values={"kind": "billing"}),
        kinds=[(k, label) for k, (_, label) in FEED_KINDS.items()],
        batch_kinds={k: label for k, (_, label) in FEED_KINDS.items()},
        result=result,
        history=history.json() if history.ok else None,
        readings_history=readings_history.json() if readings_history.ok else None,
        status=status,
    )


@routes.get(FEEDS)
@console_page(BILLING)
async def feeds(request: web.Request) -> web.StreamResponse:
    return await _feeds_page(request)


@routes.post(FEEDS)
@console_page(BILLING)
async def upload(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    files = uploads(await request.post(), "batch")
    kind = form.value("kind")
    if kind not in FEED_KINDS:
        form.error("kind", "Wybierz rodzaj zasilenia.")
    if not files:
        form.error("batch", "Wybierz plik partii (CSV albo JSON lines).")
    elif len(files[0].data) > FEED_MAX_BYTES:
        form.error("batch", "Plik jest za duży: najwyżej 16 MB.")
    elif not files[0].data:
        form.error("batch", "Plik jest pusty.")
    if form.invalid:
        return await _feeds_page(request, form, status=422)
    batch = files[0]
    fmt = format_of_file(batch.filename, batch.data)
    reply = checked(
        await api(request).post(
            FEED_KINDS[kind][0], data=batch.data, headers={"Content-Type": CONTENT_TYPES[fmt]}
        )
    )
    if reply.ok:
        answer = reply.json()
        summary = answer.get("summary") or {}
        done(
            request,
            f"Partię przyjęto: {answer.get('row_count', 0)} wierszy, zastosowano "
            f"{answer.get('applied', 0)}, bez zmian {answer.get('unchanged', 0)}."
            + (" (Ta sama partia była już wczytana.)" if answer.get("replayed") else "")
            + (f" {summary}" if isinstance(summary, str) else ""),
            FEEDS,
        )
    problem = reply.problem
    result = {
        "detail": problem.get("detail") or "Partii nie przyjęto.",
        "errors": problem.get("errors") or [],
        "error_count": problem.get("error_count"),
    }
    return await _feeds_page(request, form, result, status=422)


# -- rate tables and tariffs ---------------------------------------------------------------------


async def _rates_page(
    request: web.Request, forms: dict[str, Form] | None = None, status: int = 200
) -> web.Response:
    changes_page = {"page": page_number(request), "page_size": "20"}
    interest, eur, tariffs, changes = await asyncio.gather(
        api(request).get("/operator/billing/interest-rates"),
        api(request).get("/operator/billing/eur-rates"),
        api(request).get("/operator/billing/tariffs"),
        api(request).get("/operator/billing/tariffs/changes", params=changes_page),
    )
    for reply in (interest, eur, tariffs, changes):
        checked(reply)
    return render(
        request,
        "console/rates.html",
        title="Stawki i taryfy",
        interest=interest.json()["items"] if interest.ok else None,
        eur=eur.json()["items"] if eur.ok else None,
        tariffs=tariffs.json()["items"] if tariffs.ok else None,
        tariff_changes=changes.json() if changes.ok else None,
        forms={"interest": Form(), "eur": Form(), "tariff": Form()} | (forms or {}),
        status=status,
    )


@routes.get(RATES)
@console_page(BILLING)
async def rates(request: web.Request) -> web.StreamResponse:
    return await _rates_page(request)


def _decimal(form: Form, name: str, message: str) -> str:
    value = form.value(name).replace(" ", "").replace(",", ".")
    if not value:
        form.error(name, "To pole jest wymagane.")
    elif not DECIMAL.match(value):
        form.error(name, message)
    return value


def _day(form: Form, name: str) -> str:
    value = form.value(name)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        form.error(name, "Podaj datę w formacie RRRR-MM-DD.")
    return value


# form → (API path, method, the body from the form, message, API field → form field)
RATE_FORMS = ("interest", "eur", "tariff")


def _rate_body(name: str, form: Form) -> tuple[str, str, dict[str, str], dict[str, str]]:
    if name == "interest":
        body = {
            "effective_from": _day(form, "interest_from"),
            "reference_rate_percent": _decimal(
                form, "reference_rate", "Podaj stopę w procentach, np. 5,75."
            ),
        }
        fields = {"effective_from": "interest_from", "reference_rate_percent": "reference_rate"}
        return "POST", "/operator/billing/interest-rates", body, fields
    if name == "eur":
        body = {
            "rate_date": _day(form, "eur_date"),
            "eur_pln": _decimal(
                form, "eur_pln", "Podaj kurs z 4 cyframi po przecinku, np. 4,2834."
            ),
        }
        if form.value("table_number"):
            body["table_number"] = form.value("table_number")
        fields = {"rate_date": "eur_date", "eur_pln": "eur_pln", "table_number": "table_number"}
        return "POST", "/operator/billing/eur-rates", body, fields
    body = {
        "tariff_group": form.value("tariff_group"),
        "valid_from": _day(form, "valid_from"),
        "water_price": _decimal(form, "water_price", "Podaj cenę za m³, np. 5,12."),
        "sewage_price": _decimal(form, "sewage_price", "Podaj cenę za m³, np. 7,40."),
        "subscription_fee": _decimal(form, "subscription_fee", "Podaj kwotę, np. 12,50."),
        "vat_rate": _decimal(form, "vat_rate", "Podaj stawkę VAT w procentach, np. 8."),
    }
    if not body["tariff_group"]:
        form.error("tariff_group", "Podaj grupę taryfową.")
    return "PUT", "/operator/billing/tariffs", body, {k: k for k in body}


MESSAGES = {
    "interest": "Dodano stopę referencyjną NBP.",
    "eur": "Zapisano kurs EUR.",
    "tariff": "Zapisano taryfę.",
}


@routes.post(RATES + "/{table}")
@console_page(BILLING)
async def add_rate(request: web.Request) -> web.StreamResponse:
    name = request.match_info["table"]
    if name not in RATE_FORMS:
        raise web.HTTPNotFound()
    form = await read_form(request)
    method, path, body, fields = _rate_body(name, form)
    if not form.invalid:
        reply = checked(await api(request).call(method, path, json_body=body))
        if reply.ok:
            done(request, MESSAGES[name], RATES)
        form.take_problem(reply.problem, fields, known=fields.values())
    return await _rates_page(request, {name: form}, status=422)


# -- payments to look into -----------------------------------------------------------------------


@routes.get(PAYMENTS)
@console_page(BILLING)
async def unmatched_payments(request: web.Request) -> web.StreamResponse:
    reply = checked(await api(request).get("/operator/billing/payment-orders/unmatched"))
    return render(
        request,
        "console/payments.html",
        title="Płatności do wyjaśnienia",
        unmatched=reply.json() if reply.ok else None,
    )
