"""notifier settings: ``EBOK_*`` environment variables (see ebok_shared.settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.headerregistry import Address
from email.utils import parseaddr

from ebok_shared.config import ConfigError, Secret
from ebok_shared.settings import ServiceSettings

SMTP_SECURITY = ("none", "starttls", "tls")


@dataclass(frozen=True, kw_only=True)
class NotifierSettings(ServiceSettings):
    http_port: int = 8005

    # The SMTP relay every e-mail goes through.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_security: str = "none"  # none | starttls | tls (implicit TLS, usually port 465)
    smtp_username: str = ""
    smtp_password: Secret = field(default_factory=lambda: Secret(""))
    smtp_validate_certs: bool = True
    smtp_timeout: float = 30.0  # seconds per SMTP command
    smtp_pool_size: int = 4  # connections kept open, one sender worker each
    smtp_max_messages_per_connection: int = 500  # then QUIT and reconnect
    smtp_idle_seconds: float = 30.0  # an idle connection is closed after this

    # What the e-mails say about us.
    mail_from: str = "e-BOK MPWiK <ebok@mpwik.com.pl>"
    utility_name: str = "Miejskie Przedsiębiorstwo Wodociągów i Kanalizacji w m.st. Warszawie S.A."
    public_base_url: str = "https://ebok.mpwik.com.pl"  # every link in every e-mail starts here
    contact_email: str = "ebok@mpwik.com.pl"
    contact_phone: str = "22 445 50 00"

    # Where e-invoice PDFs come from.
    billing_url: str = "http://127.0.0.1:8002"
    # Billing's internal API wants a token of kind "service": auth issues it for these
    # credentials (auth's EBOK_SERVICE_CLIENTS holds the same pair).
    auth_url: str = "http://127.0.0.1:8001"
    service_client_id: str = "notifier"
    service_client_secret: Secret | None = None
    billing_timeout: float = 10.0
    max_attachment_bytes: int = 10 * 1024 * 1024

    # Delivery: temporary failures are retried with growing delays until the deadline.
    delivery_retry_base: float = 30.0  # seconds before the 2nd attempt; doubles each time
    delivery_retry_max: float = 3600.0  # the longest wait between two attempts
    delivery_deadline: float = 3 * 24 * 3600.0  # after this a temporary failure is final
    sender_batch_size: int = 32  # deliveries claimed but not yet recorded, at most
    sender_poll_interval: float = 1.0  # look for due deliveries at least this often
    sender_reclaim_interval: float = 5.0  # free the claims of replicas that died

    # Campaigns (one event to every active user).
    campaign_rate: float = 20.0  # e-mails per second across all replicas
    campaign_chunk_size: int = 1000  # delivery rows materialised per transaction

    def validate(self) -> None:
        super().validate()
        if self.smtp_security not in SMTP_SECURITY:
            raise ConfigError("EBOK_SMTP_SECURITY: expected none, starttls or tls")
        if not 0 < self.smtp_port < 65536:
            raise ConfigError("EBOK_SMTP_PORT: expected a port number 1-65535")
        if bool(self.smtp_username) != bool(self.smtp_password):
            raise ConfigError("EBOK_SMTP_PASSWORD: set both EBOK_SMTP_USERNAME and the password")
        if self.smtp_pool_size < 1:
            raise ConfigError("EBOK_SMTP_POOL_SIZE: expected at least 1")
        if self.sender_batch_size < self.smtp_pool_size:
            raise ConfigError("EBOK_SENDER_BATCH_SIZE: expected at least EBOK_SMTP_POOL_SIZE")
        _, address = parseaddr(self.mail_from)
        if "@" not in address or "\n" in self.mail_from or "\r" in self.mail_from:
            raise ConfigError("EBOK_MAIL_FROM: expected an address like 'Name <box@domain>'")
        for name in ("public_base_url", "billing_url"):
            value = getattr(self, name)
            if not value.startswith(("http://", "https://")):
                raise ConfigError(f"EBOK_{name.upper()}: expected an http(s):// URL")
        if self.campaign_rate <= 0:
            raise ConfigError("EBOK_CAMPAIGN_RATE: expected e-mails per second above 0")
        if self.campaign_chunk_size < 1:
            raise ConfigError("EBOK_CAMPAIGN_CHUNK_SIZE: expected at least 1")
        if not 0 < self.delivery_retry_base <= self.delivery_retry_max:
            raise ConfigError(
                "EBOK_DELIVERY_RETRY_BASE: expected 0 < base <= EBOK_DELIVERY_RETRY_MAX"
            )

    @property
    def sender_address(self) -> Address:
        name, address = parseaddr(self.mail_from)
        user, _, domain = address.rpartition("@")
        return Address(display_name=name, username=user, domain=domain)

    @property
    def message_id_domain(self) -> str:
        return self.sender_address.domain
