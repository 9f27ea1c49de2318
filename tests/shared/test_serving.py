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
