"""Page tests: the whole stack as real processes (tests/e2e's fixtures, web included) and a
browser without JavaScript (``portal.Portal``) for each test that needs its own cookies; real
Chromium for the browser modules (``browser.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.conftest import api, operator, stack, workdir  # noqa: F401  (fixtures)
from tests.e2e.stack import Stack

from .browser import (  # noqa: F401  (real-browser fixtures, shared by the browser modules)
    browser,
    browser_customers,
    browser_stack,
    browsing,
    playwright_driver,
)
from .portal import Portal


@pytest.fixture
async def portal(stack: Stack) -> AsyncIterator[Portal]:  # noqa: F811
    async with Portal.session(stack.portal_url) as http:
        yield Portal(http, stack.portal_url)
