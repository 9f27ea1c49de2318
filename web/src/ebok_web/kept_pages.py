"""Dashboard pages as web made them, kept per session beside the gateway's ETag of the view
they show. The next view of the same session asks the gateway with ``If-None-Match``; an
unchanged view (304, no body) is answered with the kept page: no JSON read, nothing rendered.

A page is a function of the view and of what the layout shows of the session, so a kept page
is used only for the same session id (a new one at every sign-in and password change), the
same day (due dates and notices count from it) and the same CSRF token, login and
restrictions; a page that showed one-time messages is never kept. Each replica keeps its own
(a miss only renders again), held gzipped (a few KB each) for the least recently used
``max_sessions`` sessions, and dropped when the session ends.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
from collections import OrderedDict
from dataclasses import dataclass

from aiohttp import web
from multidict import CIMultiDict

from .sessions import Session

# zlib's fastest level: most of the size gone (the HTML is repetitive) for a fraction of level
# 6's CPU, paid once per page made; the browser gets these bytes as they are.
_LEVEL = 1


@dataclass(frozen=True)
class KeptPage:
    etag: str  # the gateway's tag of the view the page shows
    shown_to: tuple[object, ...]  # what of the session and the day the page shows
    gzipped: bytes

    def answer(self, request: web.Request) -> web.Response:
        """The page, gzipped when the browser takes it so (every browser does)."""
        if takes_gzip(request.headers.get("Accept-Encoding", "")):
            return web.Response(body=self.gzipped, headers=_GZIPPED)
        return web.Response(body=gzip.decompress(self.gzipped), headers=_PLAIN)


# The answer's headers, made once (the Content-Type as aiohttp writes it from content_type
# and charset); each answer copies them.
_PLAIN = CIMultiDict({"Vary": "Accept-Encoding", "Content-Type": "text/html; charset=utf-8"})
_GZIPPED = CIMultiDict({"Content-Encoding": "gzip", **_PLAIN})


@functools.lru_cache(maxsize=64)  # a browser sends the same one on every page
def takes_gzip(accepted: str) -> bool:
    """Whether an ``Accept-Encoding`` takes gzip (``gzip;q=0`` refuses it: RFC 9110 12.5.3)."""
    for item in accepted.lower().split(","):
        coding, _, weight = item.partition(";")
        if coding.strip() == "gzip":
            name, _, value = weight.strip().partition("=")
            try:
                return name.strip() != "q" or float(value) > 0
            except ValueError:
                return True
    return False


def shown_to(session: Session, today: dt.date) -> tuple[object, ...]:
    return (today, session.csrf, session.login, tuple(session.restrictions))


class KeptPages:
    def __init__(self, max_sessions: int = 5_000) -> None:
        self.max_sessions = max_sessions
        self._pages: OrderedDict[str, KeptPage] = OrderedDict()

    def get(self, session: Session, today: dt.date) -> KeptPage | None:
        """The session's kept page if it may be shown again as it is (the view permitting)."""
        if session.flash:  # messages for this very page: it will differ
            return None
        page = self._pages.get(session.id)
        if page is None or page.shown_to != shown_to(session, today):
            return None
        self._pages.move_to_end(session.id)
        return page

    def keep(self, session: Session, today: dt.date, etag: str, html: bytes) -> KeptPage:
        page = KeptPage(etag, shown_to(session, today), gzip.compress(html, _LEVEL))
        self._pages[session.id] = page
        self._pages.move_to_end(session.id)
        while len(self._pages) > self.max_sessions:
            self._pages.popitem(last=False)
        return page

    def drop(self, session: Session) -> None:
        self._pages.pop(session.id, None)
