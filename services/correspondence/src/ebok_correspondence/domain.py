"""correspondence domain rules: pure functions and values, no I/O.

A *case* is one document a customer sent through e-BOK (terms III.e), with its attachments,
the utility's replies and its history. Kinds and statuses are English codes on the wire and
in the database; people read the Polish labels.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from ebok_shared.clock import LOCAL_TZ
from ebok_shared.refusals import Refusal, invalid


class Kind(StrEnum):
    FAILURE_REPORT = "failure_report"  # awaria
    WATER_QUALITY_COMPLAINT = "water_quality_complaint"  # skarga na jakość wody
    DATA_CHANGE = "data_change"  # zmiana danych strony umowy
    REKLAMACJA = "reklamacja"  # reklamacja faktury lub odczytu
    LETTER = "letter"  # pismo innej treści


class Status(StrEnum):
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    CLOSED = "closed"


KIND_LABELS = {
    Kind.FAILURE_REPORT: "Zgłoszenie awarii",
    Kind.WATER_QUALITY_COMPLAINT: "Skarga na jakość wody",
    Kind.DATA_CHANGE: "Zmiana danych strony umowy",
    Kind.REKLAMACJA: "Reklamacja",
    Kind.LETTER: "Pismo",
}
STATUS_LABELS = {
    Status.RECEIVED: "Przyjęte",
    Status.IN_PROGRESS: "W trakcie rozpatrywania",
    Status.ANSWERED: "Udzielono odpowiedzi",
    Status.CLOSED: "Zamknięte",
}
# Kinds the utility must answer by a date (shown to the customer, ordering the queue).
WITH_DEADLINE = frozenset({Kind.REKLAMACJA, Kind.WATER_QUALITY_COMPLAINT})
# Kinds the back office acts on: published for it as their own events too.
FOR_BACK_OFFICE = frozenset({Kind.DATA_CHANGE, Kind.REKLAMACJA})
# "open" in filters: everything not yet closed.
OPEN_STATUSES = (Status.RECEIVED, Status.IN_PROGRESS, Status.ANSWERED)
# Statuses an operator may set by hand ("answered" comes with a reply, "closed" by closing).
SETTABLE_STATUSES = (Status.RECEIVED, Status.IN_PROGRESS, Status.ANSWERED)


def is_urgent(kind: Kind) -> bool:
    """A failure report is always urgent: it comes first in the operators' queue."""
    return kind is Kind.FAILURE_REPORT


def reply_due(kind: Kind, submitted_at: dt.datetime, reply_days: int) -> dt.date | None:
    """The date by which the utility must answer: ``reply_days`` after the local date the
    document came in, for reklamacje and complaints; no date for other kinds."""
    if kind not in WITH_DEADLINE:
        return None
    return submitted_at.astimezone(LOCAL_TZ).date() + dt.timedelta(days=reply_days)


def days_left(due: dt.date | None, status: Status, today: dt.date) -> int | None:
    """Calendar days until an open case's reply deadline (0: today, negative: overdue)."""
    if due is None or status not in OPEN_STATUSES:
        return None
    return (due - today).days


def extended_due(due: dt.date, extension_days: int) -> dt.date:
    return due + dt.timedelta(days=extension_days)


def local_year(at: dt.datetime) -> int:
    return at.astimezone(LOCAL_TZ).year


def case_number(prefix: str, year: int, sequence: int) -> str:
    """``EBOK/2026/000123``: readable, unique, rising within the year."""
    return f"{prefix}/{year}/{sequence:06d}"


class RuleBroken(Refusal):
    """409: an operator action the case's state does not allow; ``code`` and Polish
    ``detail``."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(409, code, detail)


class CaseNotFound(Refusal):
    """404: no such case (or, for a customer, not one of theirs: the same answer)."""

    def __init__(self) -> None:
        super().__init__(404, "not-found", "Nie znaleziono takiej sprawy.")


class AttachmentNotFound(Refusal):
    def __init__(self, detail: str = "Nie znaleziono takiego załącznika.") -> None:
        super().__init__(404, "not-found", detail)


def not_your_invoice() -> Refusal:
    return invalid(
        "invoice_number", "na Twoim koncie nie ma faktury o tym numerze", code="not-your-invoice"
    )


def not_your_meter() -> Refusal:
    return invalid(
        "meter_serial", "na Twoim koncie nie ma wodomierza o tym numerze", code="not-your-meter"
    )


def _open(status: Status) -> None:
    if status is Status.CLOSED:
        raise RuleBroken("case-closed", "Sprawa jest zamknięta; nie można jej już zmieniać.")


def check_assign(status: Status) -> Status:
    """Taking a case: a received one moves to "in progress"; the status it gets."""
    _open(status)
    return Status.IN_PROGRESS if status is Status.RECEIVED else status


def check_reply(status: Status) -> Status:
    _open(status)
    return Status.ANSWERED


def check_status_change(current: Status, wanted: Status, replies: int) -> Status:
    _open(current)
    if wanted not in SETTABLE_STATUSES:
        raise RuleBroken(
            "status-not-settable", "Sprawę zamyka się osobną czynnością (zamknięcie sprawy)."
        )
    if wanted is Status.ANSWERED and replies == 0:
        raise RuleBroken(
            "no-reply-yet", "Sprawa nie ma jeszcze odpowiedzi; najpierw udziel odpowiedzi."
        )
    return wanted


def check_evidence(kind: Kind, status: Status, already_at: dt.datetime | None) -> None:
    _open(status)
    if kind not in WITH_DEADLINE:
        raise RuleBroken(
            "no-deadline",
            "Termin odpowiedzi dotyczy tylko reklamacji i skarg na jakość wody.",
        )
    if already_at is not None:
        raise RuleBroken(
            "evidence-already-recorded",
            "Konieczność uzupełnienia dowodów została już odnotowana; termin przedłużono.",
        )


def check_close(status: Status) -> None:
    _open(status)
