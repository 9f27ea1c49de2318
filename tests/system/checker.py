"""The checker: what the history says happened against what the real effect stores hold.

Effects are read where they live: readings' ``readings`` rows (by Idempotency-Key), billing's
``meter_readings`` and run invoices (by the reading's id), correspondence's ``cases`` (by the
operation id written in the description), auth's accounts, regulations and audit log, the SMTP
sink's Maildir (activation, case confirmation, e-invoice, block notice and new-terms campaign
e-mails, by recipient and subject), the notifier's ``deliveries`` and ``campaigns`` (an e-mail
refused for good with 550 is recorded there as failed: not lost), and each customer's
dashboard as the gateway serves it (its kept view must show the last reading).

Per effect of an operation:
  lost         the operation was acknowledged (ok) and the effect is missing
  unexpected   the effect exists for an operation that definitely failed, or never was invoked
  duplicated   the effect exists more than once (two rows, two different e-mails); the same
               e-mail (same Message-ID) arriving twice is a redelivery, counted apart, allowed
               (SMTP itself cannot do better when a line breaks after the data was sent)
  recovered    the effect exists for an operation whose outcome was unknown
  refused      an e-mail the SMTP server refused for good (550), recorded as failed
  retried      an operation sent again with the same id after an unknown outcome, applied once
  reordered    an aggregate's events applied out of the order they were published in: billing
               recording a meter's readings in another order than readings accepted them.
               The platform promises order at publication (the relay publishes one
               aggregate's events in order); a consumer's retry through a retry queue may
               overtake, so this is counted and printed, not failed
"""

from __future__ import annotations

import email.policy
import itertools
import re
from collections import Counter
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import asyncpg

from .history import FAILED, OK, UNKNOWN, History

_HEADERS = BytesParser(policy=email.policy.default)
_MESSAGES = BytesParser(policy=email.policy.default)
ACTIVATION_SUBJECT = "Aktywuj konto"
E_INVOICE_CONFIRM_SUBJECT = "adres do e-faktur"
E_INVOICE_ACCEPTED_SUBJECT = "E-faktura: akceptacja przyjęta"
BLOCKED_SUBJECT = "został zablokowany"
TERMS_SUBJECT = "Zmiana Regulaminu e-BOK"


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
    reordered: int = 0
    problems: list[str] = field(default_factory=list)
    section: str = ""  # what is being checked now: the row of ``table`` the tallies go to
    table: dict[str, Counter[str]] = field(default_factory=dict)

    def bump(self, what: str) -> None:
        setattr(self, what, getattr(self, what) + 1)
        self.table.setdefault(self.section, Counter())[what] += 1

    def note(self, what: str, problem: str) -> None:
        self.bump(what)
        self.problems.append(f"{what}: {problem}")

    @property
    def clean(self) -> bool:
        return self.lost == self.unexpected == self.duplicated == 0

    def rows(self) -> list[str]:
        """The tallies per section, as a Markdown table."""
        columns: tuple[str, ...] = ("checked", "lost", "unexpected", "duplicated")
        columns += ("recovered", "retried", "refused", "reordered")
        lines = ["| effect | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
        for section, tally in self.table.items():
            lines.append(f"| {section} | " + " | ".join(str(tally[c]) for c in columns) + " |")
        return lines

    def summary(self) -> str:
        return (
            f"checked {self.checked} effects: lost {self.lost}, unexpected {self.unexpected},"
            f" duplicated {self.duplicated}, recovered {self.recovered}, refused (550)"
            f" {self.refused}, redelivered e-mails {self.redelivered}, retried after an unknown"
            f" outcome and applied once {self.retried}, reordered {self.reordered}"
        )


def _judge(
    counts: Counts, label: str, outcome: str | None, found: int, refused: bool, attempts: int = 1
) -> None:
    """One effect of one operation: ``found`` distinct applications of it."""
    counts.bump("checked")
    if attempts > 1 and found == 1:
        counts.bump("retried")
    if found > 1:
        counts.note("duplicated", f"{label} applied {found} times")
    elif outcome == OK and found == 0:
        if refused:
            counts.bump("refused")
        else:
            counts.note("lost", f"{label} acknowledged, no effect")
    elif outcome == FAILED and found:
        counts.note("unexpected", f"{label} failed, yet applied")
    elif outcome == UNKNOWN and found:
        counts.bump("recovered")


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
    billing_dsn: str | None = None,  # billing's database when its run is on
    views: dict[str, dict[str, Any]] | None = None,  # client → dashboard served after drain
    steady: AbstractSet[str] = frozenset(),  # active throughout: each owed a terms e-mail
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
    counts.section = "register → activation e-mail"
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
    counts.section = "reading → row"
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
        counts.section = "case → case, attachment"
        _judge(counts, f"case {op_id}", op.outcome, len(numbers), False, op.attempts)
        address = emails[op.subject]
        for number in numbers:
            counts.section = "case → case, attachment"
            # A case sent with its photo (``sys-ca-``) keeps exactly one; the others none.
            photos = 1 if op_id.startswith("sys-ca-") else 0
            if files[number] > photos:
                counts.note("duplicated", f"case {number} has {files[number]} attachments")
            elif files[number] < photos:
                counts.note("lost", f"case {number} lost its attachment")
            confirmations = sum(1 for m in distinct if m.to == address and number in m.subject)
            # The case exists, so its e-mail was owed, whatever the client heard.
            counts.section = "case → confirmation e-mail"
            _judge(
                counts,
                f"confirmation of case {number} ({op_id})",
                OK,
                confirmations,
                refused_to[address] > 0,
            )
    counts.section = "case → case, attachment"
    for op_id in set(case_numbers) - set(invoked):
        counts.note("unexpected", f"case for {op_id}, never invoked")

    # E-invoices: the request → one confirmation e-mail to the new address; the acceptance
    # (the link's token) → one "accepted" e-mail there. The operation id is the address.
    for kind, subject in (
        ("einvoice-request", E_INVOICE_CONFIRM_SUBJECT),
        ("einvoice-accept", E_INVOICE_ACCEPTED_SUBJECT),
    ):
        counts.section = f"{kind} → e-mail"
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
        counts.section = "block → account blocked, session ended"
        _judge(counts, f"block of {number}", op.outcome, int(number in blocked), False)
        if number in blocked:
            address = emails[number]
            if sessions_alive.get(number):
                counts.note("lost", f"block of {number}: its session still works")
            counts.section = "block → notice e-mail"
            _judge(
                counts, f"block notice to {number}", OK, notices[address], refused_to[address] > 0
            )
    counts.section = "block → account blocked, session ended"
    for number in blocked - set(invoked):
        counts.note("unexpected", f"account {number} blocked, never asked")
    await _audit(counts, history, auth_dsn, blocked)
    await _terms(counts, history, auth_dsn, notifier_dsn, distinct, refused_to, steady, emails)
    if billing_dsn is not None:
        await _billing(counts, readings_dsn, billing_dsn)
    if views is not None:
        await _views(counts, readings_dsn, views)
    return counts


async def _audit(counts: Counts, history: History, auth_dsn: str, blocked: set[str]) -> None:
    """Auth's audit log: each block that took effect audited exactly once, none that did not;
    the new terms' publication once per version; the hash chain whole."""
    auth = await asyncpg.connect(auth_dsn)
    try:
        audited = Counter(
            r["clear"]
            for r in await auth.fetch(
                "SELECT s.subject AS clear FROM audit_log a"
                " JOIN audit_subjects s ON s.pseudonym = a.subject"
                " WHERE a.type = 'account.blocked'"
            )
        )
        published = Counter(
            int(r["version"])
            for r in await auth.fetch(
                "SELECT details->>'version' AS version FROM audit_log"
                " WHERE type = 'regulations.published'"
            )
        )
        versions = await auth.fetch("SELECT version, summary FROM regulations")
        broken = await auth.fetchval("SELECT audit_chain_broken()")
    finally:
        await auth.close()
    counts.section = "block → audit record"
    for op in history.of_kind("block"):
        if op.subject in blocked:
            _judge(counts, f"audit of the block of {op.subject}", OK, audited[op.subject], False)
        elif audited[op.subject]:
            counts.note("unexpected", f"audit of a block of {op.subject}, not blocked")
    counts.section = "terms → audit record"
    for op in history.of_kind("terms"):
        for row in versions:
            if f"op:{op.id}" in row["summary"]:
                _judge(
                    counts,
                    f"audit of terms v{row['version']}",
                    OK,
                    published[row["version"]],
                    False,
                )
    counts.section = "audit log → hash chain"
    counts.bump("checked")
    if broken is not None:
        counts.note("lost", f"the audit log's hash chain is broken at row {broken}")


async def _terms(
    counts: Counts,
    history: History,
    auth_dsn: str,
    notifier_dsn: str,
    distinct: Any,
    refused_to: Counter[str],
    steady: AbstractSet[str],
    emails: dict[str, str],
) -> None:
    """New terms published by an operator → one version, one campaign, and one e-mail to each
    active user: every address in ``steady`` (active before and after) exactly one; the
    others (blocked during the run, so perhaps before the campaign reached them) at most one;
    every delivery the campaign materialised in the Maildir once (or refused with 550)."""
    ops = list(history.of_kind("terms"))
    if not ops:
        return
    auth = await asyncpg.connect(auth_dsn)
    notifier = await asyncpg.connect(notifier_dsn)
    try:
        versions = await auth.fetch("SELECT version, summary FROM regulations")
        campaigns = await notifier.fetch(
            "SELECT id, (context->>'version')::int AS version FROM campaigns"
        )
        deliveries = await notifier.fetch(
            "SELECT campaign_id, recipient, status, last_answer FROM deliveries"
            " WHERE campaign_id IS NOT NULL"
        )
    finally:
        await auth.close()
        await notifier.close()
    campaign_of = Counter(r["version"] for r in campaigns)
    mailed = Counter(m.to for m in distinct if TERMS_SUBJECT in m.subject)
    ours = []
    counts.section = "terms → version, campaign"
    for op in ops:
        mine = [r["version"] for r in versions if f"op:{op.id}" in r["summary"]]
        _judge(counts, f"terms {op.id}", op.outcome, len(mine), False)
        for version in mine:
            _judge(counts, f"campaign of terms v{version}", OK, campaign_of[version], False)
            ours.append(version)
    counts.section = "terms → campaign e-mail to each user"
    owed = len(ours)  # one e-mail per published version (almost always one)
    for address in steady:
        counts.bump("checked")
        if mailed[address] > owed:
            counts.note("duplicated", f"terms e-mail to {address}: {mailed[address]} for {owed}")
        elif mailed[address] < owed and not refused_to[address]:
            counts.note("lost", f"terms e-mail to {address}: {mailed[address]} for {owed}")
    for address in set(emails.values()) - steady:
        counts.bump("checked")
        if mailed[address] > owed:
            counts.note("duplicated", f"terms e-mail to {address}: {mailed[address]} for {owed}")
    sent_to = Counter(r["recipient"].lower() for r in deliveries if r["status"] == "sent")
    for address, n in sent_to.items():
        if mailed[address] < n:
            counts.note("lost", f"terms e-mail to {address} sent {n} times, {mailed[address]} kept")
    for address in set(mailed) - set(emails.values()):
        counts.note("unexpected", f"terms e-mail to {address}, not a customer of the run")


async def _billing(counts: Counts, readings_dsn: str, billing_dsn: str) -> None:
    """Readings → billing's run: each accepted reading recorded by billing exactly once (by its
    id), nothing billing recorded that readings did not accept, each run invoice for one
    reading; and, per meter, billing recorded the readings in the order readings accepted
    them (``reordered``)."""
    readings = await asyncpg.connect(readings_dsn)
    try:
        accepted = await readings.fetch(
            "SELECT id, meter_serial FROM readings"
            " WHERE idempotency_key LIKE 'sys-%' AND status = 'accepted' ORDER BY submitted_at"
        )
        serials = sorted({r["meter_serial"] for r in accepted})
        anything = {  # every accepted reading of those meters, the installation's too
            r["id"]
            for r in await readings.fetch(
                "SELECT id FROM readings WHERE meter_serial = ANY($1::text[])"
                " AND status = 'accepted'",
                serials,
            )
        }
    finally:
        await readings.close()
    billing = await asyncpg.connect(billing_dsn)
    try:
        recorded = await billing.fetch(
            "SELECT reading_id, meter_serial, invoice_number, received_at FROM meter_readings"
            " WHERE meter_serial = ANY($1::text[]) ORDER BY received_at, reading_id",
            serials,
        )
        invoices = Counter(
            r["invoice_number"]
            for r in await billing.fetch(
                "SELECT invoice_number FROM invoices WHERE source = 'billing-run'"
                " AND invoice_number IN (SELECT invoice_number FROM meter_readings"
                " WHERE meter_serial = ANY($1::text[]))",
                serials,
            )
        )
    finally:
        await billing.close()
    counts.section = "reading → billing's record"
    times = Counter(r["reading_id"] for r in recorded)
    for row in accepted:
        _judge(counts, f"billing's record of reading {row['id']}", OK, times[row["id"]], False)
    for reading_id in set(times) - anything:
        counts.note("unexpected", f"billing recorded reading {reading_id}, never accepted")
    counts.section = "reading → billing's run invoice"
    per_invoice = Counter(r["invoice_number"] for r in recorded if r["invoice_number"])
    for number in per_invoice:
        counts.bump("checked")
        if invoices[number] != 1:
            counts.note("duplicated", f"run invoice {number} issued {invoices[number]} times")
    # Order: in the order readings accepted them, billing's receipt times never go back
    # (one transaction's rows share a time: a tie is no order).
    counts.section = "reading → billing, per-meter order"
    received = {r["reading_id"]: r["received_at"] for r in recorded}
    by_meter: dict[str, list[Any]] = {}
    for row in accepted:
        if row["id"] in received:
            by_meter.setdefault(row["meter_serial"], []).append(received[row["id"]])
    for serial, times_in_order in by_meter.items():
        if any(b < a for a, b in itertools.pairwise(times_in_order)):
            counts.bump("reordered")
            counts.problems.append(
                f"reordered: billing recorded meter {serial}'s readings out of order"
            )


async def _views(counts: Counts, readings_dsn: str, views: dict[str, dict[str, Any]]) -> None:
    """The gateway's kept dashboard: after the drain each customer's meters part shows the
    meter's last reading as readings holds it (a view kept past the reading would not)."""
    counts.section = "reading → gateway's dashboard view"
    readings = await asyncpg.connect(readings_dsn)
    try:
        for client, meters in views.items():
            counts.bump("checked")
            last = await readings.fetchval(
                "SELECT id::text FROM readings WHERE client_number = $1 AND source = 'customer'"
                " AND superseded_at IS NULL ORDER BY submitted_at DESC LIMIT 1",
                client,
            )
            if meters.get("status") != "ok":
                counts.note("lost", f"dashboard of {client}: meters part {meters.get('status')}")
                continue
            shown = [(m.get("last_submitted") or {}).get("id") for m in meters["data"]["items"]]
            if last is not None and last not in shown:
                counts.note("lost", f"dashboard of {client} does not show its last reading {last}")
    finally:
        await readings.close()
