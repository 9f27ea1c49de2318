"""Gateway settings: ``EBOK_*`` environment variables (see ebok_shared.settings)."""

from dataclasses import dataclass

from ebok_shared.config import ConfigError
from ebok_shared.http.forwarded import check_trusted_proxies
from ebok_shared.settings import ServiceSettings


@dataclass(frozen=True, kw_only=True)
class GatewaySettings(ServiceSettings):
    http_port: int = 8000
    auth_url: str = "http://127.0.0.1:8001"
    billing_url: str = "http://127.0.0.1:8002"
    readings_url: str = "http://127.0.0.1:8003"
    correspondence_url: str = "http://127.0.0.1:8004"
    notifier_url: str = "http://127.0.0.1:8005"
    redis_url: str = "redis://127.0.0.1:6379/0"
    rate_limit_prefix: str = "ebok:rl:"  # keeps test runs apart on a shared Redis
    cors_origins: tuple[str, ...] = ("http://localhost:3000",)
    upstream_timeout: float = 10.0
    # Connections to each service at most (calls beyond wait in line for one): a bound per
    # service, so a service that hangs cannot take the connections the others need.
    upstream_connections: int = 8
    # The dashboard answers within this, whatever is down. Generous: under load parts wait in
    # line for a connection, and that is no failure; a service that is failing is cut short
    # by its part timeout (counted once the call reached it) and its breaker (breaker.py).
    dashboard_budget: float = 4.0
    dashboard_part_timeout: float = 1.0
    # Asked views put together at once at most; the others wait their turn in one fair line
    # (admission.py), the wait counting against the budget and never lasting past what leaves
    # the parts their timeout. 0 (the default): no bound. The services' calls already wait in
    # a first-come-first-served line per service (upstream.py), so views finish about in the
    # order asked; a bound of 8-32 cost 12-14 % of the asked rate on the bench (fewer views
    # in flight leave the services idle between them) for a tail no better at ordinary load.
    # Under heavy overload a bound of 8 kept every part (the line alone let a view's wait for
    # connections eat its budget), so it is there for an operator to set.
    dashboard_views_at_once: int = 0
    # Dashboard parts are kept until an event or the customer changes them; this bounds a
    # change that no event announces. 0: every dashboard asks the services.
    dashboard_cache_seconds: float = 60.0
    trust_forwarded_for: bool = False  # true only behind our own ingress
    # Peers whose X-Forwarded-For is believed (the portal, web): per-address limits then
    # count customers, not web. Anyone else's header is ignored.
    trusted_proxies: tuple[str, ...] = ()

    def validate(self) -> None:
        super().validate()
        check_trusted_proxies(self.trusted_proxies)
        if self.dashboard_part_timeout > self.dashboard_budget:
            raise ConfigError("EBOK_DASHBOARD_PART_TIMEOUT: must not exceed EBOK_DASHBOARD_BUDGET")
        if self.upstream_connections < 1:
            raise ConfigError("EBOK_UPSTREAM_CONNECTIONS: must be at least 1")
        if self.dashboard_views_at_once < 0:
            raise ConfigError("EBOK_DASHBOARD_VIEWS_AT_ONCE: must not be negative")
        if self.dashboard_cache_seconds < 0:
            raise ConfigError("EBOK_DASHBOARD_CACHE_SECONDS: must not be negative")

    def upstream(self, service: str) -> str:
        return str(getattr(self, f"{service}_url")).rstrip("/")
