"""The events the notifier consumes (it publishes none), each with its handler."""

from __future__ import annotations

from ebok_shared.bus import Subscription

from .domain import Kind
from .intake import Intake


def _from_payload(i: Intake, event_type: str, kind: Kind, address_field: str) -> Subscription:
    """An e-mail to the address the event names: a run of such events in a consumer batch is
    written to the delivery log in one statement."""
    return Subscription(event_type, i.mails_from_payload(kind, address_field), batched=True)


def subscriptions(i: Intake) -> list[Subscription]:
    """One line per consumed event: Subscription("<producer>.<entity>.<fact>", handler)."""
    return [
        # auth: e-mails, and the projection of users the campaigns go to
        Subscription("auth.account.registered", i.account_registered),
        Subscription("auth.account.activated", i.account_activated),
        _from_payload(i, "auth.account.locked", Kind.LOCKOUT, "email"),
        _from_payload(i, "auth.account.block_scheduled", Kind.BLOCK_SCHEDULED, "email"),
        Subscription("auth.account.blocked", i.account_blocked),
        Subscription("auth.account.unblocked", i.account_unblocked),
        Subscription("auth.account.deleted", i.account_deleted),
        _from_payload(i, "auth.password_reset.requested", Kind.PASSWORD_RESET, "email"),
        _from_payload(i, "auth.email_change.requested", Kind.EMAIL_CHANGE, "new_email"),
        Subscription("auth.email.changed", i.email_changed),
        # ASVS 2.2.3: the account's address hears of every new password (a takeover gets
        # noticed; the e-mail names no secret); operators too (their accounts reach every
        # customer's data).
        _from_payload(i, "auth.password.changed", Kind.PASSWORD_CHANGED, "email"),
        _from_payload(i, "auth.operator.password_changed", Kind.OPERATOR_PASSWORD_CHANGED, "email"),
        _from_payload(i, "auth.totp.changed", Kind.TOTP_CHANGED, "email"),
        Subscription("auth.regulations.published", i.regulations_published),
        # billing
        Subscription("billing.invoice.issued", i.invoice_issued),
        Subscription(
            "billing.e_invoice.confirmation_requested", i.e_invoice_confirmation_requested
        ),
        Subscription("billing.e_invoice.consent_changed", i.e_invoice_consent_changed),
        Subscription("billing.interest_note.issued", i.interest_note_issued),
        Subscription("billing.payment_order.status_changed", i.payment_order_changed),
        # correspondence
        Subscription("correspondence.case.submitted", i.case_submitted),
        Subscription("correspondence.case.answered", i.case_answered),
        Subscription("correspondence.case.evidence_requested", i.evidence_requested),
        # readings
        Subscription("readings.reading.rejected", i.reading_rejected),
        Subscription("readings.garden_request.submitted", i.garden_request_submitted),
        Subscription("readings.garden_request.decided", i.garden_request_decided),
        Subscription("readings.garden_meter.reading_due", i.garden_reading_due),
        Subscription("readings.garden_meter.legalisation_expiring", i.garden_legalisation_expiring),
        Subscription("readings.leak.suspected", i.leak_suspected),
    ]
