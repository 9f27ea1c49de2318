"""Web settings: ``EBOK_*`` environment variables (see ebok_shared.config)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ebok_shared.config import ConfigError, Settings
from ebok_shared.http.forwarded import check_trusted_proxies


@dataclass(frozen=True, kw_only=True)
class WebSettings(Settings):
    http_host: str = "0.0.0.0"
    http_port: int = 8010
    log_level: str = "INFO"
    gateway_url: str = "http://127.0.0.1:8000"  # the gateway's origin; web calls its /api/v1
    redis_url: str = "redis://127.0.0.1:6379/0"  # where sessions live (see sessions.py)
    session_prefix: str = "ebok:web:"  # keeps stacks and test runs apart on one Redis
    # The address customers open (links, the Origin check of forms); None: the request's own.
    public_base_url: str | None = None
    # Peers whose X-Forwarded-For names the customer (the ingress in front of web).
    trusted_proxies: tuple[str, ...] = ()
    session_idle_seconds: int = 30 * 60
    session_absolute_seconds: int = 12 * 3600
    gateway_timeout: float = 15.0
    # Largest form a customer may send (a letter with attachments: the gateway's own limit).
    max_body_bytes: int = 51 * 1024 * 1024
    shutdown_timeout: float = 20.0

    def validate(self) -> None:
        check_trusted_proxies(self.trusted_proxies)
        if not self.gateway_url.startswith(("http://", "https://")):
            raise ConfigError("EBOK_GATEWAY_URL: expected an http:// or https:// URL")
        if not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("EBOK_REDIS_URL: expected a redis:// URL")
        if self.public_base_url and not urlsplit(self.public_base_url).netloc:
            raise ConfigError("EBOK_PUBLIC_BASE_URL: expected an absolute URL")
        if not 0 < self.http_port < 65536:
            raise ConfigError("EBOK_HTTP_PORT: expected a port number 1-65535")
        if self.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError("EBOK_LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR")
        if not 0 < self.session_idle_seconds <= self.session_absolute_seconds:
            raise ConfigError(
                "EBOK_SESSION_IDLE_SECONDS: expected 1..EBOK_SESSION_ABSOLUTE_SECONDS"
            )

    @property
    def api_url(self) -> str:
        return self.gateway_url.rstrip("/") + "/api/v1"
