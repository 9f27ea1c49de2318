"""EBOK_TRUSTED_PROXIES: addresses and networks (pod networks in Kubernetes)."""

from __future__ import annotations

import pytest
from ebok_shared.config import ConfigError
from ebok_shared.http.forwarded import check_trusted_proxies, is_trusted


@pytest.mark.parametrize(
    ("peer", "trusted", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1",), True),
        ("127.0.0.2", ("127.0.0.1",), False),
        ("10.244.3.17", ("10.0.0.0/8",), True),
        ("192.168.1.5", ("10.0.0.0/8", "172.16.0.0/12"), False),
        ("fd00::5", ("fd00::/8",), True),
        ("10.0.0.1", (), False),
        (None, ("0.0.0.0/0",), False),
        ("not-an-address", ("0.0.0.0/0",), False),
    ],
)
def test_is_trusted(peer: str | None, trusted: tuple[str, ...], expected: bool) -> None:
    assert is_trusted(peer, trusted) is expected


def test_a_bad_entry_is_a_configuration_error_naming_it() -> None:
    check_trusted_proxies(("10.0.0.0/8", "127.0.0.1"))
    with pytest.raises(ConfigError, match="EBOK_TRUSTED_PROXIES: 'ingress' is neither"):
        check_trusted_proxies(("10.0.0.0/8", "ingress"))
