"""The back-office feed: batches of client, contract, invoice and payment records.

A batch is JSON lines (one object per line) or CSV (a header naming the columns, ``type``
among them); both give the same flat records. Every record has a ``type`` (client,
contract, invoice, payment) and string fields; meter serials are a JSON list or, in CSV,
separated by ``|``. Amounts are strings with a dot ("123.45"), dates ``YYYY-MM-DD``.
A payment may name the debt it pays: ``invoice_number`` or ``note_number`` (an interest
note), or neither; it may carry the transfer's ``title`` (an optional column: batches
without it are read as before), whose order id or invoice and note numbers then say what
it pays (see ``ledger.use_cases``); see ``allocation`` for where its money goes.

This module only reads and checks (no I/O): ``parse`` checks each row on its own,
``check_references`` checks rows against each other and against what the database
already holds. A batch with any error is applied not at all; each error names the line,
the field and the reason (in Polish, for the operator). The format, the errors' shape, the
all-or-nothing flow and the batch's record are the shared feed's (``ebok_shared.feed``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from ebok_shared.addresses import valid_email
from ebok_shared.feed import FORMATS as FORMATS  # named here too: the command line's choices
from ebok_shared.feed import BatchTooLarge as BatchTooLarge  # raised by parse
from ebok_shared.feed import (
    LineError,
    LineErrors,
    csv_records,
    jsonl_records,
    no_rows,
)
from ebok_shared.feed import decode as decode_batch

from ..clients.domain import (
    CLIENT_NUMBER_RE,
    CONTRACT_NUMBER_RE,
    INVOICE_NUMBER_RE,
    KSEF_HASH_RE,
    KSEF_NUMBER_RE,
    METER_SERIAL_RE,
    NOTE_NUMBER_RE,
    POSTAL_CODE_RE,
    Address,
    ClientData,
    ContractData,
    valid_nip,
)
from ..ledger.domain import InvoiceData, Lines, PaymentData

RECORD_TYPES = ("client", "contract", "invoice", "payment")

_MONEY_RE = re.compile(r"^-?\d{1,12}(\.\d{1,2})?$")
_M3_RE = re.compile(r"^-?\d{1,9}(\.\d{1,3})?$")
_PRICE_RE = re.compile(r"^\d{1,6}(\.\d{1,4})?$")
_RATE_RE = re.compile(r"^\d{1,2}(\.\d{1,2})?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PAYMENT_ID_RE = re.compile(r"^[A-Za-z0-9/_.-]{1,64}$")
_TARIFF_RE = re.compile(r"^[A-Za-z0-9/_.-]{1,20}$")
TITLE_MAX_LEN = 140

_CLIENT_FIELDS = ("client_number", "name", "kind", "nip", "email", "street", "postal_code", "city")
_ADDRESS = ("street", "postal_code", "city")
_CONTRACT_FIELDS = (
    "contract_number",
    "client_number",
    "concluded_on",
    "terminated_on",
    *_ADDRESS,
    "tariff_group",
    "meter_serials",
)
_INVOICE_FIELDS = (
    "invoice_number",
    "client_number",
    "contract_number",
    "issue_date",
    "due_date",
    "period_from",
    "period_to",
    "water_m3",
    "water_price",
    "sewage_m3",
    "sewage_price",
    "subscription_net",
    "vat_rate",
    "net",
    "vat",
    "gross",
    "ksef_number",
    "ksef_hash",
    "corrects",
)
# A payment names the debt it pays (an invoice or an interest note) or none: see allocation.
_PAYMENT_FIELDS = (
    "payment_id",
    "client_number",
    "invoice_number",
    "note_number",
    "paid_on",
    "amount",
    "title",
)
FIELDS = {
    "client": frozenset(_CLIENT_FIELDS),
    "contract": frozenset(_CONTRACT_FIELDS),
    "invoice": frozenset(_INVOICE_FIELDS),
    "payment": frozenset(_PAYMENT_FIELDS),
}
ALL_COLUMNS = (
    "type",
    *dict.fromkeys(_CLIENT_FIELDS + _CONTRACT_FIELDS + _INVOICE_FIELDS + _PAYMENT_FIELDS),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientRow(ClientData):
    line: int

    def content(self) -> tuple[Any, ...]:
        a = self.address
        return (self.name, self.kind, self.nip, self.email, a.street, a.postal_code, a.city)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractRow(ContractData):
    line: int

    def terms(self) -> tuple[Any, ...]:
        """What a re-stated ``contract.concluded`` announces (all but the termination)."""
        a = self.address
        return (
            self.client_number,
            self.concluded_on,
            a.street,
            a.postal_code,
            a.city,
            self.tariff_group,
            self.meter_serials,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceRow(InvoiceData):
    line: int

    def content(self) -> tuple[Any, ...]:
        return invoice_content(
            self.client_number,
            self.contract_number,
            self.issue_date,
            self.due_date,
            self.period_from,
            self.period_to,
            self.lines.water_m3,
            self.lines.water_price,
            self.lines.sewage_m3,
            self.lines.sewage_price,
            self.lines.subscription_net,
            self.lines.vat_rate,
            self.net,
            self.vat,
            self.gross,
            self.ksef_number,
            self.ksef_hash,
            self.corrects,
        )


def invoice_content(*values: Any) -> tuple[Any, ...]:
    """Comparable content of an invoice (Decimals normalised, so 8 == 8.00)."""
    return tuple(v.normalize() if isinstance(v, Decimal) else v for v in values)


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentRow(PaymentData):
    line: int

    def content(self) -> tuple[Any, ...]:
        return (
            self.client_number,
            self.invoice_number,
            self.paid_on,
            self.amount.normalize(),
            self.note_number,
            self.title,
        )


@dataclass
class ParsedBatch:
    format: str
    row_count: int = 0
    clients: list[ClientRow] = field(default_factory=list)
    contracts: list[ContractRow] = field(default_factory=list)
    invoices: list[InvoiceRow] = field(default_factory=list)
    payments: list[PaymentRow] = field(default_factory=list)
    problems: LineErrors = field(default_factory=LineErrors)

    def error(self, line: int, field_name: str, reason: str) -> None:
        self.problems.add(line, field_name, reason)

    @property
    def errors(self) -> list[LineError]:
        return self.problems.items

    @property
    def error_count(self) -> int:
        return self.problems.count


class BatchRefused(Exception):
    """A batch that passed its checks but cannot be applied: ``errors`` are
    ``(line, field, reason)``; the batch is then rejected as a whole."""

    def __init__(self, errors: list[tuple[int, str, str]]) -> None:
        super().__init__(errors[0][2] if errors else "batch refused")
        self.errors = errors


# -- reading ---------------------------------------------------------------------------


def parse(raw: bytes, fmt: str, *, max_rows: int, today: date) -> ParsedBatch:
    """Read and check every row of a batch on its own."""
    batch = ParsedBatch(format=fmt)
    text = decode_batch(raw, batch.problems)
    if text is None:
        return batch
    records = (
        jsonl_records(text, batch.problems)
        if fmt == "jsonl"
        else csv_records(text, batch.problems, ALL_COLUMNS, required=("type",))
    )
    reader = _RowReader(batch, today)
    for line, record in records:
        batch.row_count += 1
        if batch.row_count > max_rows:
            raise BatchTooLarge(max_rows)
        reader.read(line, record)
    if batch.row_count == 0 and not batch.errors:
        no_rows(batch.problems)
    return batch


# -- one row ---------------------------------------------------------------------------


class _RowReader:
    def __init__(self, batch: ParsedBatch, today: date) -> None:
        self.batch = batch
        self.today = today
        self.line = 0
        self.record: dict[str, Any] = {}
        self.ok = True

    def fail(self, field_name: str, reason: str) -> None:
        self.ok = False
        self.batch.error(self.line, field_name, reason)

    def read(self, line: int, record: dict[str, Any]) -> None:
        self.line, self.record, self.ok = line, record, True
        kind = record.get("type")
        if kind not in FIELDS:
            self.fail("type", "nieznany typ rekordu (dozwolone: " + ", ".join(RECORD_TYPES) + ")")
            return
        allowed = FIELDS[kind]
        for name in record:
            if name != "type" and name not in allowed:
                self.fail(name, f"pole nie należy do rekordu typu {kind}")
        getattr(self, "_" + kind)()

    # field readers: each returns None (and records the error) when the value is bad
    def text(
        self,
        name: str,
        *,
        required: bool = True,
        max_len: int = 200,
        pattern: re.Pattern[str] | None = None,
        what: str = "",
    ) -> str | None:
        value = self.record.get(name)
        if value is None or value == "":
            if required:
                self.fail(name, "pole jest wymagane")
            return None
        if not isinstance(value, str):
            self.fail(name, "wartość musi być tekstem")
            return None
        value = value.strip()
        if not value:
            if required:
                self.fail(name, "pole jest wymagane")
            return None
        if len(value) > max_len:
            self.fail(name, f"za długie (najwyżej {max_len} znaków)")
            return None
        if pattern is not None and not pattern.match(value):
            self.fail(name, f"nieprawidłowy format{' (' + what + ')' if what else ''}")
            return None
        return value

    def day(self, name: str, *, required: bool = True) -> date | None:
        value = self.text(name, required=required, max_len=10)
        if value is None:
            return None
        try:
            if not _DATE_RE.match(value):
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            self.fail(name, "nieprawidłowa data (oczekiwano RRRR-MM-DD)")
            return None

    def number(
        self, name: str, pattern: re.Pattern[str], example: str, *, negative: bool = False
    ) -> Decimal | None:
        value = self.record.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.fail(name, f'kwotę i ilość podaje się jako tekst, np. "{example}"')
            return None
        value = self.text(name, max_len=20)
        if value is None:
            return None
        if not pattern.match(value):
            if value.startswith("-") and pattern.match(value[1:]) and not negative:
                self.fail(name, "wartość nie może być ujemna")
            else:
                self.fail(name, f"nieprawidłowa liczba (oczekiwano np. {example})")
            return None
        try:
            amount = Decimal(value)
        except InvalidOperation:
            self.fail(name, f"nieprawidłowa liczba (oczekiwano np. {example})")
            return None
        if amount < 0 and not negative:
            self.fail(name, "wartość nie może być ujemna")
            return None
        return amount

    def address(self) -> Address | None:
        street = self.text("street")
        postal = self.text("postal_code", max_len=6, pattern=POSTAL_CODE_RE, what="NN-NNN")
        city = self.text("city", max_len=100)
        if street is None or postal is None or city is None:
            return None
        return Address(street, postal, city)

    def _client(self) -> None:
        number = self.text("client_number", max_len=6, pattern=CLIENT_NUMBER_RE, what="6 cyfr")
        name = self.text("name")
        kind = self.text("kind", max_len=20)
        if kind is not None and kind not in ("household", "business"):
            self.fail("kind", "dozwolone wartości: household, business")
        nip = self.text("nip", required=kind == "business", max_len=10)
        if nip is not None:
            if kind != "business":
                self.fail("nip", "NIP podaje się tylko dla klienta firmowego (business)")
            elif not valid_nip(nip):
                self.fail("nip", "nieprawidłowy NIP (10 cyfr z poprawną cyfrą kontrolną)")
        email = self.text("email", required=False, max_len=254)
        if email is not None and not valid_email(email):
            self.fail("email", "nieprawidłowy adres e-mail")
        address = self.address()
        if self.ok:
            assert number and name and kind and address
            self.batch.clients.append(
                ClientRow(
                    line=self.line,
                    client_number=number,
                    name=name,
                    kind=kind,
                    nip=nip,
                    email=email,
                    address=address,
                )
            )

    def _contract(self) -> None:
        number = self.text(
            "contract_number",
            max_len=40,
            pattern=CONTRACT_NUMBER_RE,
            what="wielkie litery, cyfry, / i -",
        )
        client = self.text("client_number", max_len=6, pattern=CLIENT_NUMBER_RE, what="6 cyfr")
        concluded = self.day("concluded_on")
        terminated = self.day("terminated_on", required=False)
        if concluded and terminated and terminated < concluded:
            self.fail("terminated_on", "data rozwiązania wcześniejsza niż data zawarcia umowy")
        if concluded and concluded > self.today:
            self.fail("concluded_on", "data zawarcia umowy z przyszłości")
        address = self.address()
        tariff = self.text("tariff_group", max_len=20, pattern=_TARIFF_RE)
        meters = self._meters()
        if self.ok:
            assert number and client and concluded and address and tariff and meters is not None
            self.batch.contracts.append(
                ContractRow(
                    line=self.line,
                    contract_number=number,
                    client_number=client,
                    concluded_on=concluded,
                    terminated_on=terminated,
                    address=address,
                    tariff_group=tariff,
                    meter_serials=meters,
                )
            )

    def _meters(self) -> tuple[str, ...] | None:
        value = self.record.get("meter_serials")
        if value is None or value == "":
            self.fail("meter_serials", "pole jest wymagane")
            return None
        if isinstance(value, str):
            value = [part.strip() for part in value.split("|")]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail("meter_serials", "lista numerów wodomierzy (w CSV rozdzielonych |)")
            return None
        if len(value) > 20:
            self.fail("meter_serials", "za dużo wodomierzy (najwyżej 20)")
            return None
        for serial in value:
            if not METER_SERIAL_RE.match(serial):
                self.fail("meter_serials", f"nieprawidłowy numer wodomierza {serial[:40]!r}")
                return None
        if len(set(value)) != len(value):
            self.fail("meter_serials", "powtórzony numer wodomierza")
            return None
        return tuple(value)

    def _invoice(self) -> None:
        number = self.text(
            "invoice_number", max_len=20, pattern=INVOICE_NUMBER_RE, what="10–20 cyfr"
        )
        client = self.text("client_number", max_len=6, pattern=CLIENT_NUMBER_RE, what="6 cyfr")
        if number and client and not number.startswith(client):
            self.fail("invoice_number", "numer faktury musi zaczynać się numerem klienta")
        contract = self.text("contract_number", max_len=40, pattern=CONTRACT_NUMBER_RE)
        issue, due = self.day("issue_date"), self.day("due_date")
        period_from, period_to = self.day("period_from"), self.day("period_to")
        if issue and due and due < issue:
            self.fail("due_date", "termin płatności wcześniejszy niż data wystawienia")
        if period_from and period_to and period_to < period_from:
            self.fail("period_to", "koniec okresu rozliczeniowego przed jego początkiem")
        if issue and issue > self.today:
            self.fail("issue_date", "data wystawienia z przyszłości")
        corrects = self.text("corrects", required=False, max_len=20, pattern=INVOICE_NUMBER_RE)
        negative = corrects is not None  # a correction may lower the amounts
        water_m3 = self.number("water_m3", _M3_RE, "12.345", negative=negative)
        water_price = self.number("water_price", _PRICE_RE, "5.48")
        sewage_m3 = self.number("sewage_m3", _M3_RE, "12.345", negative=negative)
        sewage_price = self.number("sewage_price", _PRICE_RE, "7.13")
        subscription = self.number("subscription_net", _MONEY_RE, "12.50", negative=negative)
        vat_rate = self.number("vat_rate", _RATE_RE, "8")
        net = self.number("net", _MONEY_RE, "123.45", negative=negative)
        vat = self.number("vat", _MONEY_RE, "9.88", negative=negative)
        gross = self.number("gross", _MONEY_RE, "133.33", negative=negative)
        ksef = self.text(
            "ksef_number",
            required=False,
            max_len=40,
            pattern=KSEF_NUMBER_RE,
            what="NIP-RRRRMMDD-XXXXXXXXXXXX-XX",
        )
        ksef_hash = self.text(
            "ksef_hash",
            required=ksef is not None,
            max_len=43,
            pattern=KSEF_HASH_RE,
            what="skrót SHA-256 w base64url",
        )
        if ksef_hash and not ksef:
            self.fail("ksef_number", "skrót KSeF bez numeru KSeF")
        if corrects and number and corrects == number:
            self.fail("corrects", "faktura nie może korygować samej siebie")
        if not self.ok:
            return
        assert water_m3 is not None and water_price is not None and sewage_m3 is not None
        assert sewage_price is not None and subscription is not None and vat_rate is not None
        assert net is not None and vat is not None and gross is not None
        lines = Lines(water_m3, water_price, sewage_m3, sewage_price, subscription, vat_rate)
        if lines.net != net:
            self.fail("net", f"netto nie zgadza się z pozycjami (z pozycji: {lines.net})")
        elif lines.vat != vat:
            self.fail("vat", f"VAT nie zgadza się ze stawką (ze stawki: {lines.vat})")
        elif net + vat != gross:
            self.fail("gross", f"brutto musi być sumą netto i VAT ({net + vat})")
        if self.ok:
            assert number and client and contract and issue and due and period_from and period_to
            self.batch.invoices.append(
                InvoiceRow(
                    line=self.line,
                    invoice_number=number,
                    client_number=client,
                    contract_number=contract,
                    issue_date=issue,
                    due_date=due,
                    period_from=period_from,
                    period_to=period_to,
                    lines=lines,
                    net=net,
                    vat=vat,
                    gross=gross,
                    ksef_number=ksef,
                    ksef_hash=ksef_hash,
                    corrects=corrects,
                )
            )

    def _payment(self) -> None:
        pid = self.text(
            "payment_id", max_len=64, pattern=_PAYMENT_ID_RE, what="litery, cyfry, / _ . -"
        )
        client = self.text("client_number", max_len=6, pattern=CLIENT_NUMBER_RE, what="6 cyfr")
        invoice = self.text(
            "invoice_number",
            required=False,
            max_len=20,
            pattern=INVOICE_NUMBER_RE,
            what="10–20 cyfr",
        )
        note = self.text(
            "note_number", required=False, max_len=30, pattern=NOTE_NUMBER_RE, what="NO/…/NN"
        )
        if invoice and note:
            self.fail(
                "note_number",
                "wpłata wskazuje albo fakturę, albo notę odsetkową — nie obie naraz",
            )
        paid_on = self.day("paid_on")
        if paid_on and paid_on > self.today:
            self.fail("paid_on", "data wpłaty z przyszłości")
        amount = self.number("amount", _MONEY_RE, "123.45")
        # A transfer's title: 4 lines of 35 characters in Polish clearing (Elixir).
        title = self.text("title", required=False, max_len=TITLE_MAX_LEN)
        if title is not None:
            title = " ".join(title.split())  # one line: the bank's line breaks are not meant
            if not title.isprintable():
                self.fail("title", "tytuł przelewu zawiera znaki sterujące")
        if amount is not None and amount == 0:
            self.fail("amount", "kwota wpłaty musi być większa od zera")
        if self.ok:
            assert pid and client and paid_on and amount is not None
            self.batch.payments.append(
                PaymentRow(
                    line=self.line,
                    payment_id=pid,
                    client_number=client,
                    invoice_number=invoice,
                    paid_on=paid_on,
                    amount=amount,
                    note_number=note,
                    title=title,
                )
            )


# -- rows against each other and the database ----------------------------------------


@dataclass
class Known:
    """What the database already holds for the keys a batch mentions."""

    clients: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # number → content
    client_kinds: dict[str, str] = field(default_factory=dict)
    contracts: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # number → terms
    contract_terminated: dict[str, date | None] = field(default_factory=dict)
    invoices: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # number → content
    payments: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # id → content
    notes: dict[str, str] = field(default_factory=dict)  # interest note number → client


@dataclass(frozen=True)
class Keys:
    clients: list[str]
    contracts: list[str]
    invoices: list[str]
    payments: list[str]
    notes: list[str] = field(default_factory=list)


def referenced_keys(batch: ParsedBatch) -> Keys:
    clients = {r.client_number for r in batch.clients}
    clients.update(r.client_number for r in batch.contracts)
    clients.update(r.client_number for r in batch.invoices)
    clients.update(r.client_number for r in batch.payments)
    contracts = {r.contract_number for r in batch.contracts}
    contracts.update(r.contract_number for r in batch.invoices)
    invoices = {r.invoice_number for r in batch.invoices}
    invoices.update(r.corrects for r in batch.invoices if r.corrects)
    invoices.update(r.invoice_number for r in batch.payments if r.invoice_number)
    return Keys(
        sorted(clients),
        sorted(contracts),
        sorted(invoices),
        sorted(r.payment_id for r in batch.payments),
        sorted({r.note_number for r in batch.payments if r.note_number}),
    )


def check_references(batch: ParsedBatch, known: Known) -> None:
    """Rows against each other and the database; errors go into ``batch``."""
    err = batch.error
    clients: dict[str, str] = dict(known.client_kinds)
    seen: dict[str, int] = {}
    for c in batch.clients:
        if c.client_number in seen:
            err(
                c.line,
                "client_number",
                f"klient powtórzony w partii (wiersz {seen[c.client_number]})",
            )
        seen[c.client_number] = c.line
        clients[c.client_number] = c.kind

    contracts: dict[str, str] = {n: t[0] for n, t in known.contracts.items()}
    seen = {}
    for k in batch.contracts:
        if k.contract_number in seen:
            err(
                k.line,
                "contract_number",
                f"umowa powtórzona w partii (wiersz {seen[k.contract_number]})",
            )
        seen[k.contract_number] = k.line
        if k.client_number not in clients:
            err(k.line, "client_number", f"nieznany klient {k.client_number}")
        owner = contracts.get(k.contract_number)
        if owner is not None and owner != k.client_number and k.contract_number in known.contracts:
            err(k.line, "client_number", f"umowa {k.contract_number} należy do innego klienta")
        contracts[k.contract_number] = k.client_number

    invoices: dict[str, tuple[str, date, bool]] = {}  # number → client, issue, is correction
    for number, content in known.invoices.items():
        invoices[number] = (content[0], content[2], content[17] is not None)
    seen = {}
    for i in batch.invoices:
        if i.invoice_number in seen:
            err(
                i.line,
                "invoice_number",
                f"faktura powtórzona w partii (wiersz {seen[i.invoice_number]})",
            )
        seen[i.invoice_number] = i.line
        existing = known.invoices.get(i.invoice_number)
        if existing is not None and existing != i.content():
            err(
                i.line,
                "invoice_number",
                "faktura o tym numerze już istnieje z inną treścią "
                "(zmiana możliwa tylko fakturą korygującą)",
            )
        if existing is None:
            invoices[i.invoice_number] = (i.client_number, i.issue_date, i.corrects is not None)
    for i in batch.invoices:
        if i.client_number not in clients:
            err(i.line, "client_number", f"nieznany klient {i.client_number}")
        owner = contracts.get(i.contract_number)
        if owner is None:
            err(i.line, "contract_number", f"nieznana umowa {i.contract_number}")
        elif owner != i.client_number:
            err(i.line, "contract_number", f"umowa {i.contract_number} należy do innego klienta")
        if i.corrects:
            target = invoices.get(i.corrects)
            if target is None:
                err(i.line, "corrects", f"nieznana faktura korygowana {i.corrects}")
            elif target[0] != i.client_number:
                err(i.line, "corrects", "faktura korygowana należy do innego klienta")
            elif target[2]:
                err(i.line, "corrects", "korekta odnosi się do faktury pierwotnej, nie do korekty")
            elif i.issue_date < target[1]:
                err(i.line, "issue_date", "korekta wystawiona przed fakturą korygowaną")

    seen = {}
    for p in batch.payments:
        if p.payment_id in seen:
            err(p.line, "payment_id", f"wpłata powtórzona w partii (wiersz {seen[p.payment_id]})")
        seen[p.payment_id] = p.line
        existing = known.payments.get(p.payment_id)
        if existing is not None and existing != p.content():
            err(p.line, "payment_id", "wpłata o tym identyfikatorze już istnieje z inną treścią")
        if p.client_number not in clients:
            err(p.line, "client_number", f"nieznany klient {p.client_number}")
        if p.note_number is not None:
            owner = known.notes.get(p.note_number)
            if owner is None:
                err(p.line, "note_number", f"nieznana nota odsetkowa {p.note_number}")
            elif owner != p.client_number:
                err(p.line, "note_number", "nota odsetkowa należy do innego klienta")
        if p.invoice_number is None:
            continue
        target = invoices.get(p.invoice_number)
        if target is None:
            err(p.line, "invoice_number", f"nieznana faktura {p.invoice_number}")
        elif target[0] != p.client_number:
            err(p.line, "invoice_number", "faktura należy do innego klienta")
        elif p.paid_on < target[1]:
            err(p.line, "paid_on", "data wpłaty wcześniejsza niż data wystawienia faktury")
