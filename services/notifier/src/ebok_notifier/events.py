"""The events the notifier consumes (it publishes none), each with its handler."""

from __future__ import annotations

from ebok_shared.bus import Subscription

from .intake import Intake


def subscriptions(i: Intake) -> list[Subscription]:
    """One line per consumed event: Subscription("<producer>.<entity>.<fact>", handler)."""
    return [
        # auth: e-mails, and the projection of users the campaigns go to
        Subscription("auth.account.registered", i.account_registered),
        Subscription("auth.account.activated", i.account_activated),
        Subscription("auth.account.locked", i.account_locked),
        Subscription("auth.account.block_scheduled", i.block_scheduled),
        Subscription("auth.account.blocked", i.account_blocked),
        Subscription("auth.account.unblocked", i.account_unblocked),
        Subscription("auth.account.deleted", i.account_deleted),
        Subscription("auth.password_reset.requested", i.password_reset_requested),
        Subscription("auth.email_change.requested", i.email_change_requested),
        Subscription("auth.email.changed", i.email_changed),
        Subscription("auth.password.changed", i.password_changed),
        Subscription("auth.operator.password_changed", i.operator_password_changed),
        Subscription("auth.totp.changed", i.totp_changed),
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
