"""Customers' dashboard parts, kept by each replica until something about that client changes.

A dashboard is eight calls to four services, and most views repeat what the customer saw a
moment ago. A replica keeps each client's parts in memory (and, beside them, the answers of
the routes marked ``kept``, e.g. the consumption every dashboard page asks for: proxy.py) and
drops them when:
- an event names the client: every service publishes one for each change of a customer's
  data, and events.py turns it into a NOTIFY that reaches every replica (live.py);
- the customer changes something through this gateway (dropped here at once; NOTIFY tells
  the other replicas);
- the day changes (interest accrues daily, invoices fall overdue);
- ``ttl`` seconds pass (the bound for a change no event announces), or the replica loses its
  LISTEN connection (it may have missed notifications: everything is dropped).
A fetch that began before a change must not store what it read: each fetch is a ``Fill``,
and dropping a client marks that client's fills under way as stale. For the same reason
dropping a client ends the joining of their calls under way (``asks``, coalesce.py).

Beside a client's parts, the ETags of the views put together from them alone (``tag``): a
front end asking with ``If-None-Match`` (the portal's dashboard page) is answered 304 without
the view being put together, serialised and hashed again. A tag goes with anything that
could change the view: the parts (every fetch that begins or ends for the client, every
drop), the day and the ttl (with the parts), the portal's settings (a tag is held with the
settings object it was made under; a reload replaces it) and the optional parts asked for.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ebok_shared.clock import clock
from prometheus_client import Counter

from .coalesce import Coalescer

ALL = "*"  # the NOTIFY payload that drops every client's views (e.g. new regulations)

PARTS_SERVED = Counter(
    "ebok_gateway_dashboard_parts_total", "Dashboard parts served, by source", ["source"]
)

KEPT_ANSWERS = Counter(
    "ebok_gateway_kept_answers_total",
    "Answers of kept routes served, by source",
    ["route", "source"],
)


@dataclass(frozen=True)
class KeptAnswer:
    """A kept route's answer as the service gave it (kept among the client's parts under
    ``key``; never a dashboard part's name)."""

    body: bytes
    headers: tuple[tuple[str, str], ...]

    @staticmethod
    def key(path: str, query: str) -> str:
        return f"GET {path}?{query}"


@dataclass(eq=False)
class _Entry:
    day: dt.date
    expires: float
    parts: dict[str, Any]
    # Bumped by every fetch that begins or ends for the client: a view put together while it
    # stayed the same came wholly from ``parts`` (see ``Stamp``).
    generation: int = 0
    # The ETags of views put together from ``parts`` alone, by what else shaped them (the
    # optional parts asked for, under the portal settings held beside): gone with any change.
    tags: dict[tuple[str, ...], tuple[object, str]] = field(default_factory=dict)

    def changed(self) -> None:
        self.generation += 1
        self.tags.clear()


@dataclass(frozen=True)
class Stamp:
    """A client's kept parts as they were when a view began to be put together."""

    client: str
    entry: _Entry
    generation: int


@dataclass(eq=False)
class Fill:
    """A fetch of some of one client's parts, under way."""

    client: str
    stale: bool = False


@dataclass
class ViewCache:
    ttl: float  # seconds; 0 keeps nothing
    max_clients: int = 20_000  # least recently used clients go first
    asks: Coalescer = field(default_factory=Coalescer)  # parts being asked, per session
    _entries: OrderedDict[str, _Entry] = field(default_factory=OrderedDict)
    _fills: dict[str, set[Fill]] = field(default_factory=dict)

    def parts(self, client: str) -> dict[str, Any]:
        """The client's kept parts that still hold (name → the part as served)."""
        entry = self._holding(client)
        return {} if entry is None else entry.parts

    def _holding(self, client: str) -> _Entry | None:
        entry = self._entries.get(client)
        if entry is None:
            return None
        if entry.day != clock.today() or entry.expires <= clock.now().timestamp():
            del self._entries[client]
            return None
        self._entries.move_to_end(client)
        return entry

    def stamp(self, client: str) -> Stamp | None:
        """Taken before a view is put together, for ``keep_tag`` after."""
        entry = self._holding(client)
        return None if entry is None else Stamp(client, entry, entry.generation)

    def keep_tag(
        self, stamp: Stamp | None, shape: tuple[str, ...], portal: object, etag: str
    ) -> None:
        """Keep the ETag of a view put together under ``portal`` (the settings object, held:
        a reload replaces it) with the ``shape``'s optional parts — only if no fetch began
        or ended for the client since ``stamp`` (so the view came from the kept parts alone)
        and they still hold."""
        if stamp is None or self._entries.get(stamp.client) is not stamp.entry:
            return
        if stamp.entry.generation == stamp.generation:
            stamp.entry.tags[shape] = (portal, etag)

    def tag(self, client: str, shape: tuple[str, ...], portal: object) -> str | None:
        """The ETag of the view the kept parts make under ``portal`` with the ``shape``'s
        optional parts, if one was put together since they last changed: the view itself
        need not be put together again to answer that it is still the same."""
        entry = self._holding(client)
        if entry is None:
            return None
        held = entry.tags.get(shape)
        return held[1] if held is not None and held[0] is portal else None

    def begin(self, client: str) -> Fill:
        fill = Fill(client)
        self._fills.setdefault(client, set()).add(fill)
        entry = self._entries.get(client)
        if entry is not None:
            entry.changed()  # the view being put together will not be the kept parts' alone
        return fill

    def end(self, fill: Fill, parts: dict[str, Any]) -> None:
        """Keep ``parts`` unless the client changed since ``fill`` began."""
        fills = self._fills.get(fill.client)
        if fills is not None:
            fills.discard(fill)
            if not fills:
                del self._fills[fill.client]
        if fill.stale or not parts or self.ttl <= 0:
            return
        entry = self._entries.get(fill.client)
        if entry is None or entry.day != clock.today():
            entry = _Entry(clock.today(), clock.now().timestamp() + self.ttl, {})
            self._entries[fill.client] = entry
        entry.parts.update(parts)
        entry.changed()
        self._entries.move_to_end(fill.client)
        while len(self._entries) > self.max_clients:
            self._entries.popitem(last=False)

    def drop(self, client: str) -> None:
        """Something about ``client`` changed (``ALL``: about everyone)."""
        self.asks.forget(client)
        if client == ALL:
            self._entries.clear()
            stale = [f for fills in self._fills.values() for f in fills]
        else:
            self._entries.pop(client, None)
            stale = list(self._fills.get(client, ()))
        for fill in stale:
            fill.stale = True
