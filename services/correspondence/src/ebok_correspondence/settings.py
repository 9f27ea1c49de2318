"""correspondence settings: ``EBOK_*`` environment variables (see ebok_shared.settings)."""

from dataclasses import dataclass

from ebok_shared.config import ConfigError
from ebok_shared.settings import ServiceSettings

KiB = 1024
MiB = 1024 * 1024
# Room for the form's own bytes around the files: part headers, boundaries, the document.
FORM_OVERHEAD = 64 * KiB


@dataclass(frozen=True, kw_only=True)
class CorrespondenceSettings(ServiceSettings):
    http_port: int = 8004
    # A document with 5 attachments of 10 MB each, and the form around them (the gateway's
    # route allows 51 MiB too).
    max_body_bytes: int = 51 * MiB
    attachments_max: int = 5
    attachment_max_bytes: int = 10 * MiB
    document_max_bytes: int = 64 * KiB  # the JSON document (or the form's document part)
    json_body_max_bytes: int = 64 * KiB  # every other JSON request body (operator actions)
    spool_memory_bytes: int = 2 * MiB  # an attachment larger than this is spooled to disk
    reply_days: int = 14  # a reklamacja or complaint is answered within this many days…
    evidence_extension_days: int = 16  # …extended by this when evidence is needed (14+16=30)
    page_size_max: int = 100
    case_number_prefix: str = "EBOK"

    def validate(self) -> None:
        super().validate()
        if not 1 <= self.attachments_max <= 20:
            raise ConfigError("EBOK_ATTACHMENTS_MAX: expected 1-20")
        if not 1 <= self.attachment_max_bytes <= 100 * MiB:
            raise ConfigError("EBOK_ATTACHMENT_MAX_BYTES: expected 1 B - 100 MiB")
        needed = self.attachments_max * self.attachment_max_bytes + FORM_OVERHEAD
        if self.max_body_bytes < needed:
            raise ConfigError(
                f"EBOK_MAX_BODY_BYTES: must allow {self.attachments_max} attachments of "
                f"EBOK_ATTACHMENT_MAX_BYTES and the form around them (at least {needed})"
            )
        if not 1 * KiB <= self.document_max_bytes <= 1 * MiB:
            raise ConfigError("EBOK_DOCUMENT_MAX_BYTES: expected 1 KiB - 1 MiB")
        if not 1 * KiB <= self.json_body_max_bytes <= 1 * MiB:
            raise ConfigError("EBOK_JSON_BODY_MAX_BYTES: expected 1 KiB - 1 MiB")
        if not 0 <= self.spool_memory_bytes <= 64 * MiB:
            raise ConfigError("EBOK_SPOOL_MEMORY_BYTES: expected 0 - 64 MiB")
        if not 1 <= self.reply_days <= 365:
            raise ConfigError("EBOK_REPLY_DAYS: expected 1-365")
        if not 0 <= self.evidence_extension_days <= 365:
            raise ConfigError("EBOK_EVIDENCE_EXTENSION_DAYS: expected 0-365")
        if not 1 <= self.page_size_max <= 1000:
            raise ConfigError("EBOK_PAGE_SIZE_MAX: expected 1-1000")
        if not self.case_number_prefix.isalnum() or not self.case_number_prefix.isascii():
            raise ConfigError("EBOK_CASE_NUMBER_PREFIX: expected letters and digits")
