"""Dashboard pages kept per session with the view's ETag: shown again only to the same
session, on the same day, with what the layout shows of the session unchanged, and never a
page that carried one-time messages."""

from __future__ import annotations

import datetime as dt
import gzip

from ebok_web.kept_pages import KeptPages, takes_gzip
from ebok_web.sessions import Session

TODAY = dt.date(2026, 12, 7)
HTML = "<!doctype html><html lang=pl><title>Pulpit</title><p>Do zapłaty 12,30 zł</p>".encode()


def _customer(login: str = "100200") -> Session:
    return Session(id=f"id-{login}", audience="customer", kind="customer", login=login)


def test_a_kept_page_is_the_page_made_gzipped_for_its_session_only() -> None:
    pages = KeptPages()
    mine, theirs = _customer("100200"), _customer("100201")
    kept = pages.keep(mine, TODAY, '"v1"', HTML)
    assert gzip.decompress(kept.gzipped) == HTML
    assert pages.get(mine, TODAY) == kept
    assert pages.get(theirs, TODAY) is None


def test_what_the_layout_shows_of_the_session_or_the_day_changes_it() -> None:
    pages = KeptPages()
    session = _customer()
    pages.keep(session, TODAY, '"v1"', HTML)
    assert pages.get(session, TODAY + dt.timedelta(days=1)) is None  # due dates, notices
    session.flash.append("Zapisano odczyt.")
    assert pages.get(session, TODAY) is None  # this page shows a message: it is made anew
    session.flash.clear()
    session.restrictions.append("password-change")
    assert pages.get(session, TODAY) is None
    session.restrictions.clear()
    session.csrf = "another token"
    assert pages.get(session, TODAY) is None


def test_an_ended_session_and_the_least_recently_used_go() -> None:
    pages = KeptPages(max_sessions=2)
    first, second, third = _customer("1"), _customer("2"), _customer("3")
    for session in (first, second):
        pages.keep(session, TODAY, '"v"', HTML)
    assert pages.get(first, TODAY) is not None  # used: now the most recent
    pages.keep(third, TODAY, '"v"', HTML)
    assert pages.get(second, TODAY) is None
    assert pages.get(first, TODAY) is not None and pages.get(third, TODAY) is not None
    pages.drop(first)
    assert pages.get(first, TODAY) is None


def test_gzip_only_where_the_browser_takes_it() -> None:
    assert takes_gzip("gzip, deflate, br, zstd")
    assert takes_gzip("br;q=1.0, GZIP;q=0.5")
    assert not takes_gzip("identity")
    assert not takes_gzip("")
    assert not takes_gzip("gzip;q=0, deflate")
    assert not takes_gzip("gzip; q=0.000")
