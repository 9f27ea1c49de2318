"""One part of a page and what became of it at the gateway: its data, or why it is missing.

A page is built of parts (the balance, the last invoices, the meters…). Each part is either
there, or temporarily unavailable (its service is down: the page says so for that part
only), or switched off by an operator (the operator's message is shown), or hidden by an
operator (nothing is shown), or refused for another reason (the refusal's message). Pages
never break because one part is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from .access import Api
from .gateway import GatewayUnavailable, Reply

State = Literal["ok", "unavailable", "suspended", "hidden", "not_found", "error"]


@dataclass(frozen=True)
class Part:
    state: State
    data: Any = None
    message: str = ""
    status: int = 200  # the gateway's answer (0: it did not answer)
    problem: dict[str, Any] = field(default_factory=dict)  # a refusal's problem document

    @property
    def ok(self) -> bool:
        return self.state == "ok"


UNAVAILABLE = Part("unavailable", status=0)


def from_reply(reply: Reply) -> Part:
    if reply.ok:
        return Part("ok", reply.json())
    detail = str(reply.problem.get("detail") or "")
    if reply.code == "section-suspended":
        return Part("suspended", message=detail)
    if reply.code == "section-hidden":
        return Part("hidden")
    if reply.status >= 500:
        return Part("unavailable", status=reply.status)
    if reply.status == 404:
        return Part("not_found", message=detail, status=404)
    return Part("error", message=detail, status=reply.status, problem=reply.problem)


async def fetch(api: Api, path: str, **kwargs: Any) -> Part:
    """GET ``path`` as one part: a gateway that cannot be reached makes it unavailable."""
    try:
        return from_reply(await api.get(path, **kwargs))
    except GatewayUnavailable:
        return UNAVAILABLE


def from_view(view: dict[str, Any] | None, name: str) -> Part:
    """A part of the gateway's aggregated dashboard (absent: hidden by an operator; no view
    at all, the gateway did not give it: unavailable)."""
    if view is None:
        return UNAVAILABLE
    entry = view.get(name)
    if not isinstance(entry, dict):
        return Part("hidden")
    status = entry.get("status")
    if status == "ok":
        return Part("ok", entry.get("data"))
    if status == "suspended":
        return Part("suspended", message=str(entry.get("detail") or ""))
    if status == "error":
        return Part("error", message=str(entry.get("detail") or ""))
    return UNAVAILABLE


def found_or_404(part: Part) -> Part:
    """An item page: a number that is not the customer's (or not a number) is the 404 page."""
    if part.state in ("not_found", "hidden") or part.status == 400:
        raise web.HTTPNotFound()
    return part


def document(reply: Reply, filename: str) -> web.Response:
    """A binary answer (PDF) passed on as a download, never kept by the browser's cache."""
    if reply.status in (400, 404) or reply.code == "section-hidden":
        raise web.HTTPNotFound()
    if not reply.ok:
        raise GatewayUnavailable(f"document: {reply.status}")
    disposition = reply.headers.get("Content-Disposition", "")
    if "filename=" in disposition:
        filename = disposition.split("filename=", 1)[1].strip().strip('"')
    return web.Response(
        body=reply.body,
        content_type=reply.content_type or "application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
