"""Fixtures of the shared library's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def publish_path() -> str:
    """How a bus sandbox's relays publish, unless a test parametrizes ``publish_path`` over
    ``tests.support.bus.PUBLISH_PATHS`` (the relay's reliability tests run with each)."""
    return "fast"
