"""Settings every service reads; a service subclasses this with its own fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from aiohttp import web

from .config import ConfigError, Settings

# The parts of a service one process can run (ebok_shared.service: create_service_app).
ROLES = ("api", "worker", "relay", "all")


@dataclass(frozen=True, kw_only=True)
class ServiceSettings(Settings):
    database_url: str  # this service's own database
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    bus_prefix: str = ""  # keeps test runs apart from a local stack on the same broker
    http_host: str = "0.0.0.0"
    http_port: int = 8080
    log_level: str = "INFO"
    jwks_url: str = "http://127.0.0.1:8001/.well-known/jwks.json"
    token_issuer: str = "ebok-auth"
    token_audience: str = "ebok"
    max_body_bytes: int = 1024 * 1024
    shutdown_timeout: float = 20.0  # SIGTERM to exit, at most (+ closing the pool and bus)
    retry_delays: tuple[float, ...] = (1.0, 10.0, 60.0)
    relay_batch_size: int = 500
    db_pool_min: int = 2  # connections kept open while idle
    db_pool_max: int = 10
    # Test stacks: every answer checked against the service's contract (ebok_shared.api).
    check_answers: bool = False
    # What ``serve`` runs (``serve --role`` overrides it): "api" the HTTP routes, "worker" the
    # consumers and background loops, "relay" the outbox relay, "all" everything (the local
    # run). Every role answers /health/* and /metrics. See ebok_shared.service.
    role: str = "all"
    # Apply pending migrations when ``serve`` starts (the local run). Off where a migrate job
    # runs once per release and the pods only wait for the schema (Kubernetes, compose).
    migrate_at_start: bool = True

    @classmethod
    def of(cls, app: web.Application) -> Self:
        """The app's settings as this service's own type: ``BillingSettings.of(request.app)``.

        ``create_service_app`` stores them under one shared key; the check here is the one
        place their type is narrowed, so no service needs a cast or an ignore.
        """
        settings = app[SETTINGS]
        if not isinstance(settings, cls):
            raise TypeError(f"the app holds {type(settings).__name__}, not {cls.__name__}")
        return settings

    def validate(self) -> None:
        if not self.database_url.startswith(("postgresql://", "postgres://")):
            raise ConfigError("EBOK_DATABASE_URL: expected a postgresql:// URL")
        if not self.amqp_url.startswith(("amqp://", "amqps://")):
            raise ConfigError("EBOK_AMQP_URL: expected an amqp:// or amqps:// URL")
        if not 0 < self.http_port < 65536:
            raise ConfigError("EBOK_HTTP_PORT: expected a port number 1-65535")
        if self.role not in ROLES:
            raise ConfigError("EBOK_ROLE: expected " + ", ".join(ROLES))
        if self.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError("EBOK_LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR")
        if not 0 <= self.db_pool_min <= self.db_pool_max or self.db_pool_max < 1:
            raise ConfigError("EBOK_DB_POOL_MIN: expected 0 to EBOK_DB_POOL_MAX (at least 1)")


SETTINGS = web.AppKey("settings", ServiceSettings)
