"""notifier domain rules: pure functions and values, no I/O."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import uuid
from dataclasses import dataclass

# Names the Message-ID of every e-mail: the same (event, recipient) always gives the same id,
# so a copy sent again after a crash is recognisable downstream as the same message.
_MESSAGE_ID_NAMESPACE = uuid.UUID("6f1c3a57-4b0e-4d8f-9a43-0eb0c0000001")
_MESSAGE_ID_NAMESPACE_BYTES = _MESSAGE_ID_NAMESPACE.bytes


class Kind(enum.StrEnum):
    """What an e-mail is; each kind has its templates in ``templates/<kind>.*``."""

    ACTIVATION = "activation"
    PASSWORD_RESET = "password_reset"
    EMAIL_CHANGE = "email_change"  # confirm the new address (to the new address)
    EMAIL_CHANGED = "email_changed"  # the address was changed (to the previous address)
    LOCKOUT = "lockout"
    PASSWORD_CHANGED = "password_changed"  # changed or reset: a notice, never the password
    OPERATOR_PASSWORD_CHANGED = "operator_password_changed"  # an operator's own, a notice
    TOTP_CHANGED = "totp_changed"  # two-factor login turned on or off
    REGULATIONS = "regulations"
    BLOCK_SCHEDULED = "block_scheduled"
    ACCOUNT_BLOCKED = "account_blocked"
    ACCOUNT_DELETED = "account_deleted"
    E_INVOICE = "e_invoice"
    E_INVOICE_CONFIRM = "e_invoice_confirm"  # confirm the address for e-invoices
    E_INVOICE_CONSENT = "e_invoice_consent"  # e-invoices accepted or withdrawn
    CASE_RECEIVED = "case_received"
    CASE_ANSWERED = "case_answered"
    READING_REJECTED = "reading_rejected"
    GARDEN_REQUEST_DECIDED = "garden_request_decided"
    GARDEN_READING_DUE = "garden_reading_due"
    GARDEN_LEGALISATION_EXPIRING = "garden_legalisation_expiring"
    LEAK_SUSPECTED = "leak_suspected"
    INTEREST_NOTE = "interest_note"  # billing charged late-payment interest
    EVIDENCE_REQUESTED = "evidence_requested"  # an operator needs evidence for a case
    GARDEN_REQUEST_RECEIVED = "garden_request_received"  # a garden-meter request, confirmed
    # an e-BOK account was registered: to billing's address of record when it is another one
    REGISTRATION_NOTICE = "registration_notice"
    PAYMENT_RECEIPT = "payment_receipt"  # an online payment paid (the provider confirmed it)


class Status(enum.StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # claimed by a sender; the outcome is not recorded yet
    SENT = "sent"  # the relay accepted it
    FAILED = "failed"  # permanent answer, or the deadline passed; an operator may re-send
    CANCELLED = "cancelled"  # the recipient's account was deleted before it went out


# Payload fields that are one-time secrets: kept in the delivery log only until sent.
SECRET_FIELDS = ("token", "activation_token")


class Priority(enum.IntEnum):
    """Lower goes first: a password reset does not wait behind a 100,000-recipient campaign."""

    TRANSACTIONAL = 0
    CAMPAIGN = 1


def message_id(event_id: uuid.UUID, recipient: str, domain: str) -> str:
    """The Message-ID header of the e-mail for (event, recipient)."""
    name = f"{event_id}/{recipient.strip().lower()}"
    # uuid.uuid5(_MESSAGE_ID_NAMESPACE, name).hex, without building the UUID object (half of
    # the cost): SHA-1 of namespace and name, version 5 and the RFC 4122 variant set.
    digest = bytearray(hashlib.sha1(_MESSAGE_ID_NAMESPACE_BYTES + name.encode()).digest()[:16])
    digest[6] = digest[6] & 0x0F | 0x50
    digest[8] = digest[8] & 0x3F | 0x80
    return f"<{digest.hex()}@{domain}>"


@dataclass(frozen=True)
class RetryPolicy:
    base: float  # seconds before the 2nd attempt
    maximum: float  # the longest wait between attempts
    deadline: float  # seconds after queueing when a temporary failure becomes final

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt: base, 2×base, 4×base…"""
        exponent = min(max(attempts - 1, 0), 32)
        return min(self.base * 2**exponent, self.maximum)

    def next_attempt(
        self, *, attempts: int, queued_at: dt.datetime, now: dt.datetime
    ) -> dt.datetime | None:
        """When to try again after a temporary failure, or None: the deadline has passed.
        The last attempt is made at the deadline itself."""
        deadline = queued_at + dt.timedelta(seconds=self.deadline)
        if now >= deadline:
            return None
        return min(now + dt.timedelta(seconds=self.delay(attempts)), deadline)


def campaign_slot(starts_at: dt.datetime, ordinal: int, rate: float) -> dt.datetime:
    """The time the ``ordinal``-th (0-based) e-mail of a campaign becomes due: the campaign's
    rate is kept by its schedule, so it holds across replicas and restarts."""
    return starts_at + dt.timedelta(seconds=ordinal / rate)


def one_line(text: str) -> str:
    """Header-safe text: CR, LF and every other run of white space become one space."""
    return " ".join(text.split())


class DeliveryFailure(Exception):
    """An attempt that did not deliver; ``answer`` is what the log and operators see."""

    def __init__(self, answer: str) -> None:
        super().__init__(answer)
        self.answer = answer


class TemporaryFailure(DeliveryFailure):
    """Worth another attempt: connection refused, timeout, SMTP 4xx, billing unavailable."""


class RelayUnavailable(TemporaryFailure):
    """No session with the relay at all (connection, greeting, TLS or login failed): nothing
    about this e-mail; the sender pauses before the next attempt."""


class PermanentFailure(DeliveryFailure):
    """Never retried: SMTP 5xx, an invalid address, an e-mail that cannot be built."""
