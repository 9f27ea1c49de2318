"""What billing's HTTP handlers share: the app's settings, the utility printed on documents,
path parameters (a bad one is a Polish problem naming the field), and PDF answers."""

from __future__ import annotations

import re

from aiohttp import web
from ebok_shared.http.params import bad

from .clients.domain import CLIENT_NUMBER_RE, CONTRACT_NUMBER_RE, INVOICE_NUMBER_RE
from .documents.utility import Utility
from .settings import BillingSettings


def settings(app: web.Application) -> BillingSettings:
    return BillingSettings.of(app)


def utility(app: web.Application) -> Utility:
    s = settings(app)
    return Utility(
        s.utility_name,
        s.utility_street,
        s.utility_postal_code,
        s.utility_city,
        s.utility_nip,
        s.bank_prefix,
        s.ksef_qr_base,
        s.transfer_recipient,
    )


def _matched(request: web.Request, name: str, pattern: re.Pattern[str], reason: str) -> str:
    value = request.match_info[name]
    if not pattern.match(value):
        raise bad(name, reason)
    return value


def invoice_number(request: web.Request) -> str:
    return _matched(
        request,
        "number",
        INVOICE_NUMBER_RE,
        "nieprawidłowy numer faktury (10–20 cyfr, na początku numer klienta)",
    )


def contract_number(request: web.Request) -> str:
    return _matched(
        request,
        "number",
        CONTRACT_NUMBER_RE,
        "nieprawidłowy numer umowy (wielkie litery, cyfry, / i -)",
    )


def client_number(request: web.Request) -> str:
    return _matched(request, "number", CLIENT_NUMBER_RE, "numer klienta to 6 cyfr")


def pdf_response(body: bytes, filename: str) -> web.Response:
    return web.Response(
        body=body,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "private, max-age=3600",
        },
    )
