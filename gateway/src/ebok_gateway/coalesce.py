"""Concurrent identical asks of the services share one call (single flight), within one
customer's session only.

A customer's browser, the portal and an app of theirs often ask for the same dashboard at
the same moment (two tabs, a double click, a reload). Each ask that finds the same call to a
service already under way for the same token waits for that call's answer instead of
making another. Keys always hold the caller's token, and calls are grouped by client, so
nothing is ever shared between clients (or between two sessions of one client); nothing is
kept once the call has answered. When something about a client changes (``forget``, called
wherever their kept views are dropped), asks from then on start a call of their own: an
answer read before a change is never given to an ask made after it. A call nobody waits for
any more is cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

ALL = "*"  # ``forget`` every client's calls


@dataclass(eq=False)
class Flight:
    """One call under way, and how many asks wait for it."""

    client: str
    key: Hashable
    task: asyncio.Future[Any]
    waiting: int = 0


@dataclass
class Coalescer:
    _flights: dict[str, dict[Hashable, Flight]] = field(default_factory=dict)

    def join(self, client: str, key: Hashable, call: Callable[[], Awaitable[Any]]) -> Flight:
        """The call of ``client``'s named ``key`` under way, or a new one of ``call()``
        (``key`` must hold the caller's token); ``leave`` it when no longer waiting."""
        flights = self._flights.setdefault(client, {})
        flight = flights.get(key)
        if flight is None:
            flight = Flight(client, key, asyncio.ensure_future(call()))
            flights[key] = flight
            flight.task.add_done_callback(lambda _: self._landed(flight))
        flight.waiting += 1
        return flight

    def leave(self, flight: Flight) -> None:
        flight.waiting -= 1
        if flight.waiting == 0 and not flight.task.done():
            # The last one waiting gave up: no later ask may join a call being cancelled.
            self._landed(flight)
            flight.task.cancel()

    async def ask(self, client: str, key: Hashable, call: Callable[[], Awaitable[Any]]) -> Any:
        """``call()``'s answer, or that of the same call of ``client``'s already under way."""
        flight = self.join(client, key, call)
        try:
            return await asyncio.shield(flight.task)
        finally:
            self.leave(flight)

    def _landed(self, flight: Flight) -> None:
        flights = self._flights.get(flight.client)
        if flights is not None and flights.get(flight.key) is flight:
            del flights[flight.key]
            if not flights:
                del self._flights[flight.client]

    def forget(self, client: str) -> None:
        """Something about ``client`` (``ALL``: about everyone) changed: calls under way
        finish for those already waiting, and no later ask joins them."""
        if client == ALL:
            self._flights.clear()
        else:
            self._flights.pop(client, None)

    def under_way(self, client: str, key: Hashable) -> bool:
        """Whether an ask of ``client``'s ``key`` now would join a call under way."""
        return key in self._flights.get(client, {})

    def waiting(self, client: str) -> int:
        """How many asks wait for ``client``'s calls that a new ask could still join."""
        return sum(f.waiting for f in self._flights.get(client, {}).values())
