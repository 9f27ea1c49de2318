"""The one clock: frozen, moved and reset by tests; ``today()`` is the date in Warsaw."""

from __future__ import annotations

import datetime as dt

import pytest
from ebok_shared.clock import UTC, Clock, clock


def test_freeze_holds_time_still() -> None:
    at = dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    clock.freeze(at)
    assert clock.now() == at
    assert clock.now() == at
    assert clock.now().tzinfo is not None


def test_freeze_converts_to_utc_and_refuses_naive() -> None:
    warsaw = dt.timezone(dt.timedelta(hours=1))
    clock.freeze(dt.datetime(2026, 1, 1, 1, 0, tzinfo=warsaw))
    assert clock.now() == dt.datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert clock.now().utcoffset() == dt.timedelta(0)
    with pytest.raises(ValueError):
        clock.freeze(dt.datetime(2026, 1, 1))


def test_advance_moves_a_frozen_clock() -> None:
    clock.freeze(dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    clock.advance(dt.timedelta(days=30))
    assert clock.now() == dt.datetime(2026, 4, 9, 12, 0, tzinfo=UTC)


def test_advance_moves_a_running_clock() -> None:
    before = dt.datetime.now(UTC)
    clock.advance(dt.timedelta(days=7))
    moved = clock.now()
    after = dt.datetime.now(UTC)
    assert before + dt.timedelta(days=7) <= moved <= after + dt.timedelta(days=7)


def test_reset_returns_to_real_time() -> None:
    clock.freeze(dt.datetime(2001, 1, 1, tzinfo=UTC))
    clock.advance(dt.timedelta(days=3))
    clock.reset()
    before = dt.datetime.now(UTC)
    now = clock.now()
    assert before <= now <= dt.datetime.now(UTC)


@pytest.mark.parametrize(
    ("utc", "local_date"),
    [
        # winter (CET, UTC+1): midnight in Warsaw is 23:00 UTC
        (dt.datetime(2026, 1, 5, 22, 59, 59), dt.date(2026, 1, 5)),
        (dt.datetime(2026, 1, 5, 23, 0, 0), dt.date(2026, 1, 6)),
        (dt.datetime(2026, 1, 6, 0, 30), dt.date(2026, 1, 6)),
        # summer (CEST, UTC+2): midnight in Warsaw is 22:00 UTC
        (dt.datetime(2026, 7, 1, 21, 59, 59), dt.date(2026, 7, 1)),
        (dt.datetime(2026, 7, 1, 22, 0, 0), dt.date(2026, 7, 2)),
        # the last day of the year, by Warsaw's calendar
        (dt.datetime(2025, 12, 31, 23, 30), dt.date(2026, 1, 1)),
    ],
)
def test_today_is_the_date_in_warsaw(utc: dt.datetime, local_date: dt.date) -> None:
    clock.freeze(utc.replace(tzinfo=UTC))
    assert clock.today() == local_date


def test_today_follows_advance_across_midnight() -> None:
    clock.freeze(dt.datetime(2026, 3, 28, 22, 30, tzinfo=UTC))  # 23:30 in Warsaw
    assert clock.today() == dt.date(2026, 3, 28)
    clock.advance(dt.timedelta(hours=1))
    assert clock.today() == dt.date(2026, 3, 29)


def test_process_offset_only_when_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    day = dt.timedelta(days=1)
    monkeypatch.setenv("EBOK_CLOCK_OFFSET_SECONDS", str(day.total_seconds()))
    monkeypatch.delenv("EBOK_ALLOW_CLOCK_OFFSET", raising=False)
    before = dt.datetime.now(UTC)
    assert Clock().now() - before < day / 2
    monkeypatch.setenv("EBOK_ALLOW_CLOCK_OFFSET", "true")
    before = dt.datetime.now(UTC)
    shifted = Clock().now()
    assert before + day <= shifted <= dt.datetime.now(UTC) + day
