"""billing settings: ``EBOK_*`` environment variables (see ebok_shared.settings)."""

import re
from dataclasses import dataclass

from ebok_shared.config import ConfigError, Secret
from ebok_shared.settings import ServiceSettings


@dataclass(frozen=True, kw_only=True)
class BillingSettings(ServiceSettings):
    http_port: int = 8002
    # The utility as it appears on invoices (seller) and contracts.
    utility_name: str = "Miejskie Przedsiębiorstwo Wodociągów i Kanalizacji w m.st. Warszawie S.A."
    utility_street: str = "pl. Starynkiewicza 5"
    utility_postal_code: str = "02-015"
    utility_city: str = "Warszawa"
    utility_nip: str = "5250000009"
    # The recipient's name in transfer QR codes (the ZBP 2D standard allows 20 characters).
    transfer_recipient: str = "MPWiK Warszawa"
    # 8-digit bank routing number + the first 10 digits of the collection account; each
    # client's own account ends with the client number (NRB check digits computed).
    bank_prefix: str = "102010260000042270"
    ksef_qr_base: str = "https://qr.ksef.mf.gov.pl/invoice"
    payment_terms_days: int = 14
    feed_max_bytes: int = 64 * 1024 * 1024
    feed_max_rows: int = 200_000
    page_size_max: int = 100
    billing_run: bool = False  # issue invoices from accepted readings (demo, no back office)
    # Online payment through PayU's REST API 2.1 (off while the base URL is empty):
    # https://secure.payu.com (production), https://secure.snd.payu.com (PayU's sandbox),
    # or the local sandbox in deploy/payu_sandbox.py. The POS's credentials from PayU's panel.
    payu_base_url: str = ""
    payu_pos_id: str = ""
    payu_client_id: str = ""
    payu_client_secret: Secret | None = None
    payu_second_key: Secret | None = None  # signs the notifications PayU sends (MD5 key)
    # Where PayU sends notifications (the gateway's public route) and returns the customer
    # (the portal's return page; the order's id is appended).
    payu_notify_url: str = "http://127.0.0.1:8000/api/v1/payments/payu/notifications"
    payu_continue_url: str = "http://127.0.0.1:8010/platnosci"
    payment_order_validity_seconds: int = 1800
    # How often the worker settles orders past their validity (0: never, only when read).
    payment_expiry_interval_seconds: float = 60.0
    # A paid order the back office has not posted within this many days is listed for
    # operators (GET /operator/payment-orders/unmatched).
    payment_booking_days: int = 3

    def validate(self) -> None:
        super().validate()
        if not re.fullmatch(r"\d{18}", self.bank_prefix):
            raise ConfigError("EBOK_BANK_PREFIX: expected 18 digits")
        if not re.fullmatch(r"\d{10}", self.utility_nip):
            raise ConfigError("EBOK_UTILITY_NIP: expected 10 digits")
        if not 1 <= len(self.transfer_recipient) <= 20 or "|" in self.transfer_recipient:
            raise ConfigError("EBOK_TRANSFER_RECIPIENT: expected 1-20 characters, no |")
        if not 0 <= self.payment_terms_days <= 90:
            raise ConfigError("EBOK_PAYMENT_TERMS_DAYS: expected 0-90")
        if self.payu_base_url and not (
            self.payu_pos_id
            and self.payu_client_id
            and self.payu_client_secret
            and self.payu_second_key
        ):
            raise ConfigError(
                "EBOK_PAYU_POS_ID, EBOK_PAYU_CLIENT_ID, EBOK_PAYU_CLIENT_SECRET and "
                "EBOK_PAYU_SECOND_KEY are required with EBOK_PAYU_BASE_URL"
            )
        if not 1 <= self.payment_booking_days <= 60:
            raise ConfigError("EBOK_PAYMENT_BOOKING_DAYS: expected 1-60")
        if not 60 <= self.payment_order_validity_seconds <= 86400:
            raise ConfigError("EBOK_PAYMENT_ORDER_VALIDITY_SECONDS: expected 60-86400")
        if not 0 <= self.payment_expiry_interval_seconds <= 3600:
            raise ConfigError("EBOK_PAYMENT_EXPIRY_INTERVAL_SECONDS: expected 0-3600")
        if not 1 <= self.page_size_max <= 1000:
            raise ConfigError("EBOK_PAGE_SIZE_MAX: expected 1-1000")
