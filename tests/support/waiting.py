"""The one way a test waits for something asynchronous (an event consumed, a row written, a
process ready): poll a check until it holds. ``within`` is a liveness bound that fails the
test when nothing happens, never a measurement (speed belongs in bench/)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def eventually(
    check: Callable[[], Awaitable[Any]] | Callable[[], Any],
    what: str = "",
    *,
    within: float = 30.0,
    step: float = 0.05,
) -> Any:
    """Poll ``check`` (plain or async) until it returns something truthy; that value. Fails
    the test once ``within`` seconds have passed, naming ``what`` (by default the check)."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            name = what or getattr(check, "__name__", "the check")
            raise AssertionError(f"gave up after {within} s waiting for {name}")
        await asyncio.sleep(step)
