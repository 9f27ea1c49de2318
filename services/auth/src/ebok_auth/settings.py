"""auth settings: ``EBOK_*`` environment variables (see ebok_shared.settings)."""

from __future__ import annotations

from dataclasses import dataclass

from ebok_shared.config import ConfigError, Secret
from ebok_shared.http.forwarded import check_trusted_proxies
from ebok_shared.http.roles import ADMIN, ROLES
from ebok_shared.settings import ServiceSettings

# OWASP Password Storage Cheat Sheet, argon2id: m=19 MiB, t=2, p=1 (the minimum we accept).
OWASP_MEMORY_KIB = 19456
OWASP_TIME_COST = 2


@dataclass(frozen=True, kw_only=True)
class AuthSettings(ServiceSettings):
    http_port: int = 8001
    max_body_bytes: int = 256 * 1024  # the largest body is a regulations text

    # Signing keys: Ed25519 private keys as PEM blocks; the first one signs, all are published.
    # Unset: keys are generated and kept in auth's own database (local/dev/test only).
    signing_keys: Secret | None = None
    access_token_ttl: int = 300  # seconds
    session_idle_timeout: int = 30 * 60  # OWASP ASVS 3.3.2 (level 2)
    session_max_lifetime: int = 12 * 3600

    # argon2id; below OWASP only with allow_weak_hashing (tests)
    argon2_memory_kib: int = OWASP_MEMORY_KIB
    argon2_time_cost: int = OWASP_TIME_COST
    argon2_parallelism: int = 1
    allow_weak_hashing: bool = False
    hashing_threads: int = 0  # 0: one per CPU core

    activation_ttl_hours: int = 24  # terms II: the link comes within 24 h; no longer needed
    pending_account_days: int = 7  # registrations never activated are removed after this
    initial_password_ttl_hours: int = 72
    password_reset_ttl_minutes: int = 60
    email_change_ttl_hours: int = 24

    # Brute force (Keycloak-like): every `lockout_failures` consecutive failures lock the
    # account for lockout_base_seconds * 2^(n-1), at most lockout_max_seconds.
    lockout_failures: int = 5
    lockout_base_seconds: int = 60
    lockout_max_seconds: int = 15 * 60
    lockout_reset_seconds: int = 12 * 3600  # failures older than this are forgotten
    ip_login_failures_limit: int = 30  # per IP per window
    ip_window_seconds: int = 15 * 60
    registration_ip_limit: int = 10  # per IP per window
    registration_client_limit: int = 5  # per client number and IP per window
    reset_ip_limit: int = 10
    reset_login_limit: int = 3  # per login and IP per window
    reset_mail_limit: int = 5  # reset e-mails per login per window (then the same answer, no mail)
    trusted_proxies: tuple[str, ...] = ()  # peers whose X-Forwarded-For is believed

    contract_block_grace_days: int = 30  # terms II.7: never more than 30
    regulations_notice_days: int = 14
    scheduler_interval: float = 60.0
    audit_retention_days: int = 365
    acceptance_retention_years: int = 6  # civil-law limitation period (KC art. 118)

    totp_issuer: str = "e-BOK MPWiK"
    # "<key id>:<32 bytes base64>,…": TOTP keys are stored encrypted with the first; all open
    # (ebok_auth.totp_vault). Required to serve: auth does not start without it.
    totp_keys: Secret | None = None
    # "<key id>:<32 bytes base64>,…": the audit log's rows are sealed (HMAC) with the first;
    # all verify (ebok_auth.audit_seal). Required to serve, like the TOTP keys.
    audit_keys: Secret | None = None

    # Other services' credentials, "client_id:secret,…": each gets tokens of kind "service"
    # (POST /service-tokens) to call the others' /internal routes.
    service_clients: Secret | None = None

    def service_client_secrets(self) -> dict[str, str]:
        raw = self.service_clients.reveal() if self.service_clients else ""
        pairs = (p.partition(":") for p in raw.split(",") if p)
        return {client.strip(): secret.strip() for client, _, secret in pairs}

    bootstrap_admin_login: str | None = None
    bootstrap_admin_email: str | None = None
    bootstrap_admin_password: Secret | None = None
    bootstrap_admin_totp_secret: Secret | None = None
    # The bootstrap admin's roles: "admin" alone by default (least privilege; the admin gives
    # further roles, to themselves too). The local run's demo admin gets all four.
    bootstrap_admin_roles: tuple[str, ...] = (ADMIN,)

    def validate(self) -> None:
        super().validate()
        check_trusted_proxies(self.trusted_proxies)
        for client, secret in self.service_client_secrets().items():
            if not client or len(secret) < 32:
                raise ConfigError(
                    "EBOK_SERVICE_CLIENTS: each entry is client_id:secret, the secret at least "
                    "32 characters"
                )
        weak = (
            self.argon2_memory_kib < OWASP_MEMORY_KIB
            or self.argon2_time_cost < OWASP_TIME_COST
            or self.argon2_parallelism < 1
        )
        if weak and not self.allow_weak_hashing:
            raise ConfigError(
                "EBOK_ARGON2_MEMORY_KIB/EBOK_ARGON2_TIME_COST: below OWASP minimum "
                f"(m={OWASP_MEMORY_KIB} KiB, t={OWASP_TIME_COST}); set "
                "EBOK_ALLOW_WEAK_HASHING=true only for tests"
            )
        if not 0 <= self.contract_block_grace_days <= 30:
            raise ConfigError("EBOK_CONTRACT_BLOCK_GRACE_DAYS: expected 0-30 (terms II.7)")
        if not 60 <= self.access_token_ttl <= 900:
            raise ConfigError("EBOK_ACCESS_TOKEN_TTL: expected 60-900 seconds")
        if self.session_idle_timeout > 30 * 60 or self.session_max_lifetime > 12 * 3600:
            raise ConfigError("EBOK_SESSION_*: ASVS level 2 allows at most 30 min idle, 12 h")
        if self.pending_account_days > 7:
            raise ConfigError("EBOK_PENDING_ACCOUNT_DAYS: at most 7")
        if not 1 <= self.activation_ttl_hours <= 24:
            raise ConfigError("EBOK_ACTIVATION_TTL_HOURS: expected 1-24 (ASVS 2.3.1, terms II)")
        if self.lockout_failures < 1 or self.lockout_base_seconds < 1:
            raise ConfigError("EBOK_LOCKOUT_*: expected positive numbers")
        given = (
            self.bootstrap_admin_login,
            self.bootstrap_admin_password,
            self.bootstrap_admin_totp_secret,
        )
        if ADMIN not in self.bootstrap_admin_roles or not set(self.bootstrap_admin_roles) <= set(
            ROLES
        ):
            raise ConfigError("EBOK_BOOTSTRAP_ADMIN_ROLES: admin and any of " + ", ".join(ROLES))
        if any(given) and not all(given):
            raise ConfigError("EBOK_BOOTSTRAP_ADMIN_LOGIN, _PASSWORD and _TOTP_SECRET go together")
