"""The checker: what the history says happened against what the real effect stores hold.

Effects are read where they live: readings' ``readings`` rows (by Idempotency-Key),
correspondence's ``cases`` (by the operation id written in the description), the SMTP sink's
Maildir (activation and case confirmation e-mails, by recipient and subject) and the notifier's
``deliveries`` (an e-mail refused for good with 550 is recorded there as failed: not lost).

Per effect of an operation:
  lost         the operation was acknowledged (ok) and the effect is missing
  unexpected   the effect exists for an operation that definitely failed, or never was invoked
  duplicated   the effect exists more than once (two rows, two different e-mails); the same
               e-mail (same Message-ID) arriving twice is a redelivery, counted apart, allowed
               (SMTP itself cannot do better when a line breaks after the data was sent)
  recovered    the effect exists for an operation whose outcome was unknown
  refused      an e-mail the SMTP server refused for good (550), recorded as failed
  retried      an operation sent again with the same id after an unknown outcome, applied once
"""

from __future__ import annotations

import email.policy
import re
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import asyncpg

from .history import FAILED, OK, UNKNOWN, History

_HEADERS = BytesParser(policy=email.policy.default)
_MESSAGES = BytesParser(policy=email.policy.default)
ACTIVATION_SUBJECT = "Aktywuj konto"
E_INVOICE_CONFIRM_SUBJECT = "adres do e-faktur"
E_INVOICE_ACCEPTED_SUBJECT = "E-faktura: akceptacja przyjęta"
BLOCKED_SUBJECT = "został zablokowany"


@dataclass(frozen=True)
class Kept:
    """One message in the Maildir."""

    to: str
    subject: str
    message_id: str


def maildir_messages(maildir: Path) -> list[Kept]:
    kept = []
    for sub in ("new", "cur"):
        for path in sorted((maildir / sub).glob("*")):
            if not path.is_file():
                continue
            headers = _HEADERS.parsebytes(path.read_bytes(), headersonly=True)
            to = str(headers.get("X-Original-To") or headers.get("To") or "")
            kept.append(
                Kept(
                    to.strip().lower(), str(headers.get("Subject", "")), str(headers["Message-ID"])
                )
            )
    return kept


class MailIndex:
    """The Maildir's messages, each file's headers read once (the customers look often)."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        self._kept: dict[Path, Kept] = {}

    def _refresh(self) -> None:
        for sub in ("new", "cur"):
            for path in (self.maildir / sub).glob("*"):
                if path not in self._kept and path.is_file():
                    headers = _HEADERS.parsebytes(path.read_bytes(), headersonly=True)
                    to = str(headers.get("X-Original-To") or headers.get("To") or "")
                    self._kept[path] = Kept(
                        to.strip().lower(),
                        str(headers.get("Subject", "")),
                        str(headers["Message-ID"]),
                    )

    def token(self, to: str, subject: str, page: str) -> str | None:
        """The ``token`` of the link to ``page`` in the first e-mail to ``to`` whose subject
        has ``subject``; None while there is none."""
        self._refresh()
        for path, kept in sorted(self._kept.items()):
            if kept.to == to.lower() and subject in kept.subject:
                message = _MESSAGES.parsebytes(path.read_bytes())
                assert isinstance(message, EmailMessage)
                body = message.get_body(preferencelist=("plain",))
                text = body.get_content() if body is not None else ""
                found = re.search(re.escape(page) + r"\?token=([A-Za-z0-9_\-.~%]+)", text)
                if found:
                    return found[1]
        return None


@dataclass
class Counts:
    checked: int = 0
    lost: int = 0
    unexpected: int = 0
    duplicated: int = 0
    recovered: int = 0
    refused: int = 0
    redelivered: int = 0
    retried: int = 0
    problems: list[str] = field(default_factory=list)

    def note(self, what: str, problem: str) -> None:
        setattr(self, what, getattr(self, what) + 1)
        self.problems.append(f"{what}: {problem}")

    @property
    def clean(self) -> bool:
        return self.lost == self.unexpected == self.duplicated == 0

    def summary(self) -> str:
        return (
            f"checked {self.checked} effects: lost {self.lost}, unexpected {self.unexpected},"
            f" duplicated {self.duplicated}, recovered {self.recovered}, refused (550)"
            f" {self.refused}, redelivered e-mails {self.redelivered}, retried after an unknown"
            f" outcome and applied once {self.retried}"
        )


def _judge(
    counts: Counts, label: str, outcome: str | None, found: int, refused: bool, attempts: int = 1
) -> None:
    """One effect of one operation: ``found`` distinct applications of it."""
    counts.checked += 1
    if attempts > 1 and found == 1:
        counts.retried += 1
    if found > 1:
        counts.note("duplicated", f"{label} applied {found} times")
    elif outcome == OK and found == 0:
        if refused:
            counts.refused += 1
        else:
            counts.note("lost", f"{label} acknowledged, no effect")
    elif outcome == FAILED and found:
        counts.note("unexpected", f"{label} failed, yet applied")
    elif outcome == UNKNOWN and found:
        counts.recovered += 1


async def check(
    history: History,
    maildir: Path,
    readings_dsn: str,
    correspondence_dsn: str,
    notifier_dsn: str,
    emails: dict[str, str],  # client number → address
    setup_addresses: set[str],  # customers onboarded before the faults (activated then)
    auth_dsn: str,
    sessions_alive: dict[str, bool],  # blocked customer → their old token still let in?
) -> Counts:
    counts = Counts()
    mail = maildir_messages(maildir)
    by_id = Counter(m.message_id for m in mail)
    counts.redelivered = sum(n - 1 for n in by_id.values())
    distinct = {m.message_id: m for m in mail}.values()

    notifier = await asyncpg.connect(notifier_dsn)
    try:
        refused_to = Counter(
            r["recipient"].lower()
            for r in await notifier.fetch(
                "SELECT recipient FROM deliveries"
                " WHERE status = 'failed' AND last_answer LIKE '550%'"
            )
        )
    finally:
        await notifier.close()

    # Registrations → one activation e-mail each.
    registered = {op.subject: op for op in history.of_kind("register")}
    activations = Counter(m.to for m in distinct if ACTIVATION_SUBJECT in m.subject)
    for number, op in registered.items():
        address = emails[number]
        _judge(
            counts,
            f"activation e-mail of {number} ({op.id})",
            op.outcome,
            activations[address],
            refused_to[address] > 0,
        )
    wanted = {emails[n] for n in registered} | setup_addresses
    for address in set(activations) - wanted:
        counts.note("unexpected", f"activation e-mail to {address}, never registered in the run")

    # Readings → one row each, by its Idempotency-Key.
    readings = await asyncpg.connect(readings_dsn)
    try:
        rows = Counter(
            r["idempotency_key"]
            for r in await readings.fetch(
                "SELECT idempotency_key FROM readings WHERE idempotency_key LIKE 'sys-%'"
            )
        )
    finally:
        await readings.close()
    invoked = {op.id: op for op in history.of_kind("reading")}
    for op_id, op in invoked.items():
        _judge(counts, f"reading {op_id}", op.outcome, rows[op_id], False, op.attempts)
    for key in set(rows) - set(invoked):
        counts.note("unexpected", f"reading with key {key}, never invoked")

    # Correspondence cases → one case each, and one confirmation e-mail naming its number.
    correspondence = await asyncpg.connect(correspondence_dsn)
    try:
        cases = await correspondence.fetch(
            "SELECT c.number, substring(c.details->>'description' from 'op:(sys-[a-z0-9-]+)')"
            " AS op, (SELECT count(*) FROM attachments a WHERE a.case_id = c.id) AS files"
            " FROM cases c WHERE c.details->>'description' LIKE '%op:sys-%'"
        )
    finally:
        await correspondence.close()
    case_numbers: dict[str, list[str]] = {}
    files: dict[str, int] = {}
    for row in cases:
        case_numbers.setdefault(row["op"], []).append(row["number"])
        files[row["number"]] = row["files"]
    invoked = {op.id: op for op in history.of_kind("case")}
    for op_id, op in invoked.items():
        numbers = case_numbers.get(op_id, [])
        _judge(counts, f"case {op_id}", op.outcome, len(numbers), False, op.attempts)
        address = emails[op.subject]
        for number in numbers:
            # A case sent with its photo (``sys-ca-``) keeps exactly one; the others none.
            photos = 1 if op_id.startswith("sys-ca-") else 0
            if files[number] > photos:
                counts.note("duplicated", f"case {number} has {files[number]} attachments")
            elif files[number] < photos:
                counts.note("lost", f"case {number} lost its attachment")
            confirmations = sum(1 for m in distinct if m.to == address and number in m.subject)
            # The case exists, so its e-mail was owed, whatever the client heard.
            _judge(
                counts,
                f"confirmation of case {number} ({op_id})",
                OK,
                confirmations,
                refused_to[address] > 0,
            )
    for op_id in set(case_numbers) - set(invoked):
        counts.note("unexpected", f"case for {op_id}, never invoked")

    # E-invoices: the request → one confirmation e-mail to the new address; the acceptance
    # (the link's token) → one "accepted" e-mail there. The operation id is the address.
    for kind, subject in (
        ("einvoice-request", E_INVOICE_CONFIRM_SUBJECT),
        ("einvoice-accept", E_INVOICE_ACCEPTED_SUBJECT),
    ):
        sent = Counter(m.to for m in distinct if subject in m.subject)
        invoked = {op.id.removeprefix("accept:"): op for op in history.of_kind(kind)}
        for address, op in invoked.items():
            _judge(counts, f"{kind} {address}", op.outcome, sent[address], refused_to[address] > 0)
        for address in {a for a in sent if a.startswith("e-faktury.sys-")} - set(invoked):
            counts.note("unexpected", f"{kind} e-mail to {address}, never invoked")

    # Operator blocks → the account blocked, one notice e-mail, every session ended.
    auth = await asyncpg.connect(auth_dsn)
    try:
        blocked = {
            r["client_number"]
            for r in await auth.fetch("SELECT client_number FROM accounts WHERE status = 'blocked'")
        }
    finally:
        await auth.close()
    notices = Counter(m.to for m in distinct if BLOCKED_SUBJECT in m.subject)
    invoked = {op.subject: op for op in history.of_kind("block")}
    for number, op in invoked.items():
        _judge(counts, f"block of {number}", op.outcome, int(number in blocked), False)
        if number in blocked:
            address = emails[number]
            _judge(
                counts, f"block notice to {number}", OK, notices[address], refused_to[address] > 0
            )
            if sessions_alive.get(number):
                counts.note("lost", f"block of {number}: its session still works")
    for number in blocked - set(invoked):
        counts.note("unexpected", f"account {number} blocked, never asked")
    return counts
