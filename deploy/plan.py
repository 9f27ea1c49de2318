"""What the local run starts: each component's command, port, database and environment.

Every port moves with the base port, so a second stack (or a test) can run beside the default
one: with the default base 8000 the gateway is on 8000, the services on 8001-8005, the SMTP
sink's web listing on 8025 and its SMTP port on 1025; with base 18000 they are 18000,
18001-18005, 18025 and 11025.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from deploy.demo_admin import demo_admin_env

REPO = Path(__file__).resolve().parent.parent
DEFAULT_BASE_PORT = 8000
SERVICES = ("auth", "billing", "readings", "correspondence", "notifier")
DEFAULT_PORTS = {
    "gateway": 8000,
    "auth": 8001,
    "billing": 8002,
    "readings": 8003,
    "correspondence": 8004,
    "notifier": 8005,
    "web": 8010,
    "sink-http": 8025,
    "sink-smtp": 1025,
    "payu-sandbox": 8030,
}
SINK = "smtp-sink"
PAYU_SANDBOX = "payu-sandbox"
PAYU_POS_ID = "300746"  # the sandbox's point of sale (any id: it is ours)
LOCAL_HOST = "127.0.0.1"

Kind = Literal["sink", "service", "gateway", "web"]


@dataclass(frozen=True)
class StackConfig:
    base_port: int = DEFAULT_BASE_PORT
    bus_prefix: str = ""
    db_prefix: str = "ebok_"
    pg_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # The notifier's service credentials for this run (auth issues its tokens with them).
    notifier_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # auth's TOTP encryption key: fixed (local databases outlive a run, so must their key) and
    # known to everyone: for local runs only, never a deployment.
    totp_keys: str = (
        "local:"
        + base64.b64encode(hashlib.sha256(b"e-BOK local run only: TOTP key").digest()).decode()
    )
    # auth's audit seal key: fixed and public for the same reason (local runs only).
    audit_keys: str = (
        "local:"
        + base64.b64encode(hashlib.sha256(b"e-BOK local run only: audit key").digest()).decode()
    )
    # The payment sandbox's POS credentials for this run (billing calls it with them).
    payu_client_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    payu_second_key: str = field(default_factory=lambda: secrets.token_hex(16))
    maildir: Path = REPO / "var" / "mail"
    log_level: str = "INFO"
    ready_timeout: float = 90.0
    stop_timeout: float = 30.0  # above the services' own shutdown timeout (20 s)
    demo_clients: int = 20
    # Each service's pool, fewest and most connections (None: the services' own defaults).
    db_pool_min: int | None = None
    db_pool_max: int | None = None

    def port(self, what: str) -> int:
        return DEFAULT_PORTS[what] + self.base_port - DEFAULT_BASE_PORT

    def database(self, component: str) -> str:
        return f"{self.db_prefix}{component}"

    def database_url(self, component: str) -> str:
        parts = urlsplit(self.pg_url)
        return urlunsplit(parts._replace(path="/" + self.database(component)))


@dataclass(frozen=True)
class Component:
    name: str
    kind: Kind
    module: str  # started as ``python -m <module>``
    port: int  # its HTTP port
    env: Mapping[str, str] = field(repr=False)
    database: str | None = None

    @property
    def url(self) -> str:
        return f"http://{LOCAL_HOST}:{self.port}/"

    @property
    def ready_url(self) -> str:
        return f"http://{LOCAL_HOST}:{self.port}/health/ready"


def service_urls(config: StackConfig) -> dict[str, str]:
    """``EBOK_<NAME>_URL`` of every service and the gateway, given to every process."""
    return {
        f"EBOK_{name.upper()}_URL": f"http://{LOCAL_HOST}:{config.port(name)}"
        for name in ("gateway", *SERVICES)
    }


def _base_env(config: StackConfig, inherited: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in inherited.items() if not k.startswith("EBOK_LOCAL_")}
    env.update(PYTHONUNBUFFERED="1", EBOK_LOG_LEVEL=config.log_level)
    return env


def _service_env(config: StackConfig, name: str, inherited: Mapping[str, str]) -> dict[str, str]:
    env = _base_env(config, inherited)
    env.update(service_urls(config))
    env.update(
        EBOK_DATABASE_URL=config.database_url(name),
        EBOK_AMQP_URL=config.amqp_url,
        EBOK_BUS_PREFIX=config.bus_prefix,
        EBOK_HTTP_HOST=LOCAL_HOST,
        EBOK_HTTP_PORT=str(config.port(name)),
        EBOK_JWKS_URL=f"http://{LOCAL_HOST}:{config.port('auth')}/.well-known/jwks.json",
        **({"EBOK_DB_POOL_MIN": str(config.db_pool_min)} if config.db_pool_min else {}),
        **({"EBOK_DB_POOL_MAX": str(config.db_pool_max)} if config.db_pool_max else {}),
        # Links in e-mails open this stack's portal, never the production address.
        EBOK_PUBLIC_BASE_URL=portal_url(config),
    )
    if name == "gateway":
        # Rate-limit counters are kept apart per stack, like the bus and the databases.
        env.update(
            EBOK_REDIS_URL=config.redis_url,
            EBOK_RATE_LIMIT_PREFIX=f"ebok:{config.db_prefix}:{config.bus_prefix}:rl:",
            # The portal (on this host) passes each customer's address in X-Forwarded-For.
            EBOK_TRUSTED_PROXIES=LOCAL_HOST,
        )
    if name == "auth":
        env.update(EBOK_SERVICE_CLIENTS=f"notifier:{config.notifier_secret}")
        env.update(EBOK_TOTP_KEYS=config.totp_keys, EBOK_AUDIT_KEYS=config.audit_keys)
        env.update(demo_admin_env())  # the console's demo admin, for the local run only
        # The gateway (on this host) passes the caller's address in X-Forwarded-For.
        env.update(EBOK_TRUSTED_PROXIES=LOCAL_HOST)
    if name == "billing":
        env.update(_payu_env(config))
        env.update(
            EBOK_PAYU_BASE_URL=f"http://{LOCAL_HOST}:{config.port('payu-sandbox')}",
            # The provider notifies the gateway's public route and returns to the portal.
            EBOK_PAYU_NOTIFY_URL=f"http://{LOCAL_HOST}:{config.port('gateway')}"
            "/api/v1/payments/payu/notifications",
            EBOK_PAYU_CONTINUE_URL=f"{portal_url(config)}/platnosci",
        )
    if name == "notifier":
        env.update(EBOK_SMTP_HOST=LOCAL_HOST, EBOK_SMTP_PORT=str(config.port("sink-smtp")))
        env.update(EBOK_SERVICE_CLIENT_SECRET=config.notifier_secret)
    return env


def _payu_env(config: StackConfig) -> dict[str, str]:
    """The POS credentials billing and the payment sandbox share in the local run."""
    return {
        "EBOK_PAYU_POS_ID": PAYU_POS_ID,
        "EBOK_PAYU_CLIENT_ID": PAYU_POS_ID,
        "EBOK_PAYU_CLIENT_SECRET": config.payu_client_secret,
        "EBOK_PAYU_SECOND_KEY": config.payu_second_key,
    }


def portal_url(config: StackConfig) -> str:
    return f"http://{LOCAL_HOST}:{config.port('web')}"


def _web_env(config: StackConfig, inherited: Mapping[str, str]) -> dict[str, str]:
    env = _base_env(config, inherited)
    env.update(
        EBOK_HTTP_HOST=LOCAL_HOST,
        EBOK_HTTP_PORT=str(config.port("web")),
        EBOK_GATEWAY_URL=f"http://{LOCAL_HOST}:{config.port('gateway')}",
        EBOK_REDIS_URL=config.redis_url,
        EBOK_SESSION_PREFIX=f"ebok:{config.db_prefix}:{config.bus_prefix}:web:",
        EBOK_PUBLIC_BASE_URL=portal_url(config),
        # Whatever reaches web from this host plays the ingress (tests, benchmarks).
        EBOK_TRUSTED_PROXIES=LOCAL_HOST,
    )
    return env


def plan(config: StackConfig, inherited: Mapping[str, str] | None = None) -> list[Component]:
    """The components in start order: the SMTP sink, the payment sandbox, the services, the
    gateway, web."""
    inherited = os.environ if inherited is None else inherited
    sink_env = _base_env(config, inherited)
    sink_env.update(
        EBOK_SINK_HOST=LOCAL_HOST,
        EBOK_SINK_SMTP_PORT=str(config.port("sink-smtp")),
        EBOK_SINK_HTTP_PORT=str(config.port("sink-http")),
        EBOK_SINK_MAILDIR=str(config.maildir),
        # The sink is a development tool of this repository (deploy/sink.py), in no installed
        # package: found from the repository, whatever the working directory.
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), inherited.get("PYTHONPATH")) if p),
    )
    components = [Component(SINK, "sink", "deploy.sink", config.port("sink-http"), sink_env)]
    # The payment provider's sandbox (deploy/payu_sandbox.py), a development tool like the sink.
    sandbox_env = {k: v for k, v in sink_env.items() if not k.startswith("EBOK_SINK_")}
    sandbox_env.update(
        EBOK_PAYU_SANDBOX_HOST=LOCAL_HOST,
        EBOK_PAYU_SANDBOX_PORT=str(config.port("payu-sandbox")),
        **_payu_env(config),
    )
    components.append(
        Component(
            PAYU_SANDBOX,
            "sink",
            "deploy.payu_sandbox",
            config.port("payu-sandbox"),
            sandbox_env,
        )
    )
    for name in SERVICES:
        components.append(
            Component(
                name,
                "service",
                f"ebok_{name}",
                config.port(name),
                _service_env(config, name, inherited),
                config.database(name),
            )
        )
    components.append(
        Component(
            "gateway",
            "gateway",
            "ebok_gateway",
            config.port("gateway"),
            _service_env(config, "gateway", inherited),
            config.database("gateway"),
        )
    )
    components.append(
        Component("web", "web", "ebok_web", config.port("web"), _web_env(config, inherited))
    )
    return components


def all_ports(config: StackConfig) -> dict[str, int]:
    return {what: config.port(what) for what in DEFAULT_PORTS}
