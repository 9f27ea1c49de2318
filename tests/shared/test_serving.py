"""Serving a process's app: the collector tuned before the app serves (``serving.serve``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from ebok_shared import serving


@dataclass(frozen=True)
class _Settings:
    http_host: str = "127.0.0.1"
    http_port: int = 0
    log_level: str = "WARNING"
    shutdown_timeout: float = 1.0


@pytest.fixture
def collector() -> Iterator[None]:
    """The test process's own collector as it was, afterwards."""
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_serving_freezes_what_startup_made_and_collects_the_young_generation_less_often(
    collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)  # CPython's defaults
    ran: list[Any] = []
    monkeypatch.setattr(web, "run_app", lambda app, **_: ran.append(app))
    app = web.Application()

    serving.serve(app, _Settings())

    assert ran == [app]
    assert gc.get_threshold() == serving.COLLECTOR_THRESHOLDS
    assert gc.get_freeze_count() > 0


def test_serving_tunes_the_allocator_before_the_app_runs(
    collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []

    def tune() -> list[str]:
        order.append("allocator")
        return []

    monkeypatch.setattr(serving, "tune_allocator", tune)
    monkeypatch.setattr(web, "run_app", lambda app, **_: order.append("app"))
    serving.serve(web.Application(), _Settings())
    assert order == ["allocator", "app"]


def test_glibcs_allocator_is_tuned_except_what_the_environment_sets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = [name for _, name, _ in serving.ALLOCATOR]
    for name in names:
        monkeypatch.delenv(name, raising=False)
    assert serving.tune_allocator() == names  # glibc (Debian, the image): every one applied
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")  # an operator's own choice
    assert serving.tune_allocator() == [n for n in names if n != "MALLOC_TRIM_THRESHOLD_"]
