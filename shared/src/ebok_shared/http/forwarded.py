"""Which peers' ``X-Forwarded-For`` is believed: ``EBOK_TRUSTED_PROXIES`` entries are
addresses (``127.0.0.1``) or networks (``10.0.0.0/8``). In Kubernetes the portal's, the
gateway's and the ingress controller's pods change addresses on every restart, so only the
pod network can name them; the network policies make sure only those pods reach the port."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from ..config import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=64)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def is_trusted(peer: str | None, trusted: Iterable[str]) -> bool:
    """Whether ``peer`` (an address, as ``request.remote`` gives it) is one of ``trusted``."""
    if not peer:
        return False
    return _trusted(peer, tuple(trusted))


# Asked on every request with one of a few peers (the proxies in front, or the customers
# themselves): parsing the address each time cost web about 4 % of a page.
@lru_cache(maxsize=4096)
def _trusted(peer: str, trusted: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:  # a unix socket or an unknown peer is never a proxy we trust
        return False
    return any(address in network for network in _networks(tuple(trusted)))


def check_trusted_proxies(entries: Iterable[str]) -> None:
    """``EBOK_TRUSTED_PROXIES`` of any component: a ConfigError names an entry that is
    neither an address nor a network."""
    for entry in entries:
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            raise ConfigError(
                f"EBOK_TRUSTED_PROXIES: {entry!r} is neither an address nor a network"
            ) from None
