"""The system suite starts its own PostgreSQL and RabbitMQ servers: where their programs are
not installed (a machine that reaches them in containers only), its tests are skipped, saying
why, rather than failing."""

from __future__ import annotations

import pytest

from .infra import InfraUnavailable, require_binaries


@pytest.fixture
def servers_installed() -> None:
    try:
        require_binaries()
    except InfraUnavailable as missing:
        pytest.skip(f"the system suite needs the server programs: {missing}")
