"""Pages of the customer portal: contracts (list, detail, the contract document as PDF).

Contract numbers contain slashes (``U/100002/2023``): the page addresses carry them as they
are (``/umowy/U/100002/2023``), the document's address is registered first so it is never
read as a contract number, and the gateway gets the number percent-encoded as one segment.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from aiohttp import web

from .access import api, customer_page
from .part_state import document, fetch, found_or_404
from .rendering import render

routes = web.RouteTableDef()

CONTRACT_NUMBER = re.compile(r"[A-Z0-9/-]{3,40}")


def _number(request: web.Request) -> str:
    number = request.match_info["number"]
    if not CONTRACT_NUMBER.fullmatch(number):
        raise web.HTTPNotFound()
    return number


def _api_path(number: str, tail: str = "") -> str:
    return f"/me/contracts/{quote(number, safe='')}{tail}"


@routes.get("/umowy")
@customer_page()
async def contracts(request: web.Request) -> web.StreamResponse:
    part = await fetch(api(request), "/me/contracts")
    return render(request, "contracts/list.html", title="Umowy", part=part)


@routes.get("/umowy/{number:.+}/dokument")
@customer_page()
async def contract_document(request: web.Request) -> web.StreamResponse:
    number = _number(request)
    reply = await api(request).get(_api_path(number, "/document"))
    return document(reply, f"umowa-{number.replace('/', '-')}.pdf")


@routes.get("/umowy/{number:.+}")
@customer_page()
async def contract(request: web.Request) -> web.StreamResponse:
    number = _number(request)
    part = found_or_404(await fetch(api(request), _api_path(number)))
    return render(
        request, "contracts/detail.html", title=f"Umowa {number}", number=number, part=part
    )
