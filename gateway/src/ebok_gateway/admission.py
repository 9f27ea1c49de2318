"""Views asked of the services may be put together a few at a time (an operator's setting,
``EBOK_DASHBOARD_VIEWS_AT_ONCE``), the rest waiting their turn in one line, first come, first
served.

Without a bound, every view asked at once starts its calls at once, and each waits in a line
per service (upstream.py), finishing when the last of those lines reaches it. Those lines are
fair, so at ordinary load views finish about in the order asked, and a bound only leaves the
services idle between views (it cost 12-14 % of the asked rate on the bench). Under heavy
overload, though, a view's wait in those lines can eat its whole budget and cost it parts;
with a bound, the views let in never wait for a connection and the others wait here, where
the wait is bounded so their parts keep their timeout.

A view never waits for its turn longer than it can afford: past ``within`` it goes on without
one (as it would without this line), so waiting here alone never costs it a part.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web
from ebok_shared.logs import get_logger
from prometheus_client import Histogram

log = get_logger(__name__)

WAITED = Histogram(
    "ebok_gateway_view_turn_wait_seconds",
    "How long an asked view waited for its turn to ask the services",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


class Admission:
    """At most ``at_once`` views being put together at once (0: no bound)."""

    def __init__(self, at_once: int) -> None:
        self.at_once = at_once
        self._turns = asyncio.Semaphore(at_once) if at_once > 0 else None
        self.overdue = 0  # views that went on without a turn (``within`` ran out)
        self.in_line = 0  # views waiting for a turn now

    @contextlib.asynccontextmanager
    async def turn(self, within: float) -> AsyncIterator[float]:
        """A turn, waited for at most ``within`` seconds (then going on without one); yields
        the seconds waited, which the view's own budget must leave out."""
        if self._turns is None:
            yield 0.0
            return
        loop = asyncio.get_running_loop()
        began = loop.time()
        admitted = True
        self.in_line += 1
        try:
            async with asyncio.timeout(within):
                await self._turns.acquire()  # FIFO: asyncio's semaphore lets nobody jump in
        except TimeoutError:
            admitted = False
            self.overdue += 1
            log.warning("asked view went on without its turn", waited=round(within, 3))
        finally:
            self.in_line -= 1
        waited = loop.time() - began
        WAITED.observe(waited)
        try:
            yield waited
        finally:
            if admitted:
                self._turns.release()


ADMISSION = web.AppKey("admission", Admission)
