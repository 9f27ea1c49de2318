"""The portal's sections as operators set them (terms IV.1): which are read-only now.

A read-only section's pages show its data without their forms, with the operator's message
(the gateway would refuse a change anyway, with 423). The states come from the gateway's
public ``GET /portal/sections``, kept for a few seconds per process (not asked per page): an
operator's switch shows within that time, and the gateway refuses changes at once anyway.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from .gateway import Gateway, GatewayUnavailable
from .keys import GATEWAY

KEPT_SECONDS = 3.0
READ_ONLY_DEFAULT = "Ta część e-BOK jest teraz dostępna tylko do odczytu."


class SectionStates:
    def __init__(self) -> None:
        self._sections: dict[str, dict[str, Any]] = {}
        self._at = -KEPT_SECONDS

    async def get(self, gateway: Gateway) -> dict[str, dict[str, Any]]:
        if time.monotonic() - self._at < KEPT_SECONDS:
            return self._sections
        try:
            reply = await gateway.call("GET", "/portal/sections")
        except GatewayUnavailable:
            return self._sections  # the last known states (none at first): forms shown
        if reply.ok:
            self._sections = {s["section"]: s for s in reply.json().get("sections", [])}
            self._at = time.monotonic()
        return self._sections


SECTIONS = web.AppKey("sections", SectionStates)


async def read_only(request: web.Request, section: str) -> str | None:
    """The operator's message if ``section`` is read-only now (None: forms may be shown)."""
    state = (await request.app[SECTIONS].get(request.app[GATEWAY])).get(section)
    if state is None or state.get("mode") != "read_only":
        return None
    return str(state.get("message") or READ_ONLY_DEFAULT)
