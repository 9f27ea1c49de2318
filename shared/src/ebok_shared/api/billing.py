"""billing's contract: contracts, invoices, the balance, interest notes, e-invoices, and
the operators' rates, tariffs and back-office feed."""

from __future__ import annotations

from .types import (
    ANY_OBJECT,
    BOOLEAN,
    DATE,
    DATE_TIME,
    DEAD_LETTER_OPERATIONS,
    DECIMAL,
    FEED_BATCH,
    FEED_FORMAT,
    FEED_MEDIA_TYPES,
    INTEGER,
    MONEY,
    PAGE,
    STRING,
    STRINGS,
    Operation,
    Param,
    array,
    choice,
    closed,
    items_of,
    nullable,
    page_of,
    shape,
)

INVOICE_STATUSES = ("unpaid", "partly_paid", "paid", "overdue", "corrected")

# -- request bodies ------------------------------------------------------------------------

E_INVOICE_SCHEMA = closed(
    ["email"], email={"type": "string", "format": "email", "minLength": 3, "maxLength": 254}
)
CONFIRM_SCHEMA = closed(["token"], token={"type": "string", "pattern": "^[A-Za-z0-9_-]{32,64}$"})

_MONEY_IN = {"type": "string", "pattern": r"^\d{1,10}(\.\d{1,2})?$"}
_PRICE = {"type": "string", "pattern": r"^\d{1,6}(\.\d{1,4})?$"}
RATE_SCHEMA = closed(
    ["effective_from", "reference_rate_percent"],
    effective_from={"type": "string", "format": "date"},
    reference_rate_percent={"type": "string", "pattern": r"^\d{1,2}(\.\d{1,3})?$"},
)
EUR_RATE_SCHEMA = closed(
    ["rate_date", "eur_pln"],
    rate_date={"type": "string", "format": "date"},
    eur_pln={"type": "string", "pattern": r"^\d{1,2}\.\d{4}$"},
    table_number={"type": "string", "pattern": r"^\d{3}/A/NBP/\d{4}$"},
)
TARIFF_SCHEMA = closed(
    ["tariff_group", "valid_from", "water_price", "sewage_price", "subscription_fee", "vat_rate"],
    tariff_group={"type": "string", "pattern": r"^[A-Za-z0-9/_.-]{1,20}$"},
    valid_from={"type": "string", "format": "date"},
    water_price=_PRICE,
    sewage_price=_PRICE,
    subscription_fee=_MONEY_IN,
    vat_rate={"type": "string", "pattern": r"^\d{1,2}(\.\d{1,2})?$"},
)

# -- answers -------------------------------------------------------------------------------

PERIOD = {"type": "object", "required": ["from", "to"], "properties": {"from": DATE, "to": DATE}}
ADDRESS = shape(street=STRING, postal_code=STRING, city=STRING)
INVOICE = shape(
    invoice_number=STRING,
    issue_date=DATE,
    due_date=DATE,
    period=PERIOD,
    net=MONEY,
    vat=MONEY,
    gross=MONEY,
    amount_paid=MONEY,
    outstanding=MONEY,
    status={"enum": list(INVOICE_STATUSES)},
    status_label=STRING,
    ksef_number=nullable(STRING),
    corrects=nullable(STRING),
    delivery=STRING,
)
INTEREST_NOTE = shape(
    [
        "note_number",
        "invoice_number",
        "issue_date",
        "reason",
        "period",
        "principal",
        "kind",
        "rates",
        "periods",
        "amount",
        "total",
        "payable_by",
        "amount_paid",
        "outstanding",
        "status",
    ],
    note_number=STRING,
    invoice_number=STRING,
    issue_date=DATE,
    reason=STRING,
    reason_label=STRING,
    period={
        "type": "object",
        "required": ["from", "to"],
        "properties": {"from": STRING, "to": DATE},
    },
    days=INTEGER,
    principal=MONEY,
    due_date=DATE,
    kind=STRING,
    kind_label=STRING,
    legal_basis=STRING,
    rates=array(shape(**{"from": DATE, "to": DATE}, annual_rate_percent=DECIMAL)),
    periods=array(ANY_OBJECT),
    amount=MONEY,
    amount_text=STRING,
    recovery_compensation=nullable(ANY_OBJECT),
    total=MONEY,
    total_text=STRING,
    payable_by=DATE,
    amount_paid=MONEY,
    outstanding=MONEY,
    status={"enum": ["unpaid", "partly_paid", "paid", "overdue"]},
    status_label=STRING,
)
INVOICE_LINE = shape(
    kind=STRING, name=STRING, quantity=STRING, unit=STRING, unit_price=STRING, net=MONEY
)
INVOICE_DETAIL = {
    **INVOICE,
    "required": [
        *INVOICE["required"],
        "client_number",
        "contract_number",
        "lines",
        "payments",
        "pdf",
    ],
    "properties": {
        **INVOICE["properties"],
        "client_number": STRING,
        "contract_number": STRING,
        "vat_rate": DECIMAL,
        "lines": array(INVOICE_LINE),
        "payments": array(shape(paid_on=DATE, amount=MONEY)),
        "corrected_by": STRINGS,
        "interest_notes": array(INTEREST_NOTE),
        "bank_account": STRING,
        "pdf": STRING,
    },
}
_POSITION = shape(position={"enum": ["due", "overpaid", "settled"]}, amount=MONEY, text=STRING)
BALANCE = shape(
    ["client_number", "as_of", "balance", "overdue", "interest_notes"],
    client_number=STRING,
    as_of=DATE,
    balance=_POSITION,
    invoices_total=MONEY,
    interest_notes_total=MONEY,
    payments_total=MONEY,
    formula=STRING,
    overdue=shape(
        ["amount", "invoices", "interest_notes"],
        amount=MONEY,
        text=STRING,
        invoices=array(
            shape(
                ["invoice_number", "due_date", "outstanding", "interest"],
                invoice_number=STRING,
                due_date=DATE,
                days_late=INTEGER,
                gross=MONEY,
                paid=MONEY,
                outstanding=MONEY,
                interest=shape(["available"], available=BOOLEAN),
                recovery_compensation=nullable(ANY_OBJECT),
            )
        ),
        interest_notes=array(
            shape(["note_number", "outstanding"], note_number=STRING, outstanding=MONEY)
        ),
    ),
    interest_notes=shape(
        count=INTEGER,
        total=MONEY,
        interest=MONEY,
        recovery_compensation=MONEY,
        paid=MONEY,
        outstanding=MONEY,
    ),
)
CONTRACT = shape(
    contract_number=STRING,
    concluded_on=DATE,
    status={"enum": ["active", "terminated"]},
    status_label=STRING,
    terminated_on=nullable(DATE),
    meter_serials=STRINGS,
    supply_address=ADDRESS,
    tariff_group=STRING,
    document=STRING,
)
E_INVOICE = shape(
    ["applies", "status", "email", "pending", "history"],
    applies=BOOLEAN,
    status={"enum": ["none", "accepted", "withdrawn", "not-applicable"]},
    status_label=STRING,
    email=nullable(STRING),
    delivery={"enum": ["e-mail", "paper"]},
    pending=nullable(shape(email=STRING, purpose=STRING, expires_at=DATE_TIME)),
    message=nullable(STRING),
    history=array(
        shape(
            at=DATE_TIME, action=STRING, action_label=STRING, email=nullable(STRING), source=STRING
        )
    ),
)
E_INVOICE_CONFIRMED = shape(status={"const": "accepted"}, email=STRING, message=STRING)
RATE = shape(
    effective_from=DATE,
    reference_rate_percent=DECIMAL,
    household_rate_percent=DECIMAL,
    added_by=STRING,
    added_at=DATE_TIME,
)
RATE_ADDED = shape(effective_from=DATE, reference_rate_percent=STRING)
EUR_RATE = shape(
    rate_date=DATE,
    eur_pln=DECIMAL,
    table_number=nullable(STRING),
    added_by=STRING,
    added_at=DATE_TIME,
)
EUR_RATE_ADDED = shape(rate_date=DATE, eur_pln=DECIMAL, table_number=nullable(STRING))
TARIFF = shape(
    tariff_group=STRING,
    valid_from=DATE,
    water_price=DECIMAL,
    sewage_price=DECIMAL,
    subscription_fee=MONEY,
    vat_rate=DECIMAL,
)

# -- online payment (PayU) -----------------------------------------------------------------

_INVOICE_NUMBER = {"type": "string", "pattern": r"^\d{10,20}$"}
_NOTE_NUMBER = {"type": "string", "pattern": r"^NO/\d{10,20}/\d{2}$"}


def _ARRAY_OF(item: dict[str, object]) -> dict[str, object]:
    return {"type": "array", "items": item, "maxItems": 50, "uniqueItems": True}


PAYMENT_ORDER_SCHEMA = closed(
    ["scope"],
    scope={"enum": ["balance", "documents"]},
    invoice_numbers={
        "type": "array",
        "items": _INVOICE_NUMBER,
        "maxItems": 50,
        "uniqueItems": True,
    },
    note_numbers={"type": "array", "items": _NOTE_NUMBER, "maxItems": 50, "uniqueItems": True},
)
PAYMENT_ORDER = shape(
    ["order_id", "status", "amount"],
    order_id=STRING,
    status=STRING,
    status_label=STRING,
    amount=MONEY,
    scope=STRING,
    invoice_numbers=STRINGS,
    note_numbers=STRINGS,
    created_at=DATE_TIME,
    redirect_uri=nullable(STRING),
)
BALANCE_TRANSFER = shape(["amount"], amount=MONEY, qr_payload=STRING, title=STRING)
POSTED_PAYMENT = shape(
    ["payment_id", "client_number", "paid_on", "amount"],
    payment_id=STRING,
    client_number=STRING,
    invoice_number=nullable(STRING),
    paid_on=DATE,
    amount=MONEY,
    title=nullable(STRING),
)
UNMATCHED_PAYMENTS = shape(
    booking_days=INTEGER,
    paid_not_posted=array(PAYMENT_ORDER),
    posted_without_order=array(POSTED_PAYMENT),
    # Transfers whose title named no order, invoice or note of the client (allocated by
    # art. 451 § 3 KC, oldest debt first): for the back office to look at.
    title_unmatched=array(POSTED_PAYMENT),
)


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/me/contracts"): Operation(items_of(CONTRACT, total=INTEGER)),
    ("GET", "/me/contracts/{number}"): Operation(CONTRACT, errors=(404,)),
    ("GET", "/me/contracts/{number}/document"): Operation(errors=(404,)),
    ("GET", "/me/invoices"): Operation(
        page_of(INVOICE),
        query=(
            Param("from", DATE, "Faktury wystawione od tego dnia (RRRR-MM-DD)."),
            Param("to", DATE, "Faktury wystawione do tego dnia (RRRR-MM-DD)."),
            choice("status", INVOICE_STATUSES, "Tylko faktury o tym stanie."),
            *PAGE,
        ),
        errors=(422,),
    ),
    ("GET", "/me/invoices/{number}"): Operation(INVOICE_DETAIL, errors=(404,)),
    ("GET", "/me/invoices/{number}/pdf"): Operation(errors=(404,)),
    ("GET", "/me/balance"): Operation(BALANCE),
    ("GET", "/me/interest-notes"): Operation(page_of(INTEREST_NOTE), query=PAGE),
    ("GET", "/me/e-invoice"): Operation(E_INVOICE),
    ("PUT", "/me/e-invoice"): Operation(E_INVOICE, E_INVOICE_SCHEMA, errors=(409,)),
    ("DELETE", "/me/e-invoice"): Operation(E_INVOICE, errors=(409,)),
    ("POST", "/e-invoice/confirmations"): Operation(
        E_INVOICE_CONFIRMED, CONFIRM_SCHEMA, errors=(410,)
    ),
    # operators
    ("POST", "/operator/feed/batches"): Operation(
        FEED_BATCH, raw_body=FEED_MEDIA_TYPES, query=(FEED_FORMAT,), also_ok=(200,)
    ),
    ("GET", "/operator/feed/batches"): Operation(page_of(FEED_BATCH), query=PAGE),
    ("GET", "/operator/feed/batches/{batch_id}"): Operation(FEED_BATCH, errors=(404,)),
    ("GET", "/operator/interest-rates"): Operation(items_of(RATE)),
    ("POST", "/operator/interest-rates"): Operation(RATE_ADDED, RATE_SCHEMA, errors=(409,)),
    ("GET", "/operator/eur-rates"): Operation(items_of(EUR_RATE)),
    ("POST", "/operator/eur-rates"): Operation(
        EUR_RATE_ADDED, EUR_RATE_SCHEMA, errors=(409,), also_ok=(200,)
    ),
    ("POST", "/operator/invoices/{number}/interest-notes"): Operation(
        INTEREST_NOTE, errors=(404, 409), also_ok=(200,)
    ),
    ("GET", "/operator/tariffs"): Operation(items_of(TARIFF)),
    # The tariff as it was given (the list shows it normalised).
    ("PUT", "/operator/tariffs"): Operation(TARIFF_SCHEMA, TARIFF_SCHEMA, errors=(409,)),
    ("GET", "/operator/tariffs/changes"): Operation(
        page_of(
            shape(
                tariff_group=STRING,
                valid_from=STRING,
                replaced=BOOLEAN,
                changed_by=STRING,
                changed_at=DATE_TIME,
            )
        ),
        query=PAGE,
    ),
    **DEAD_LETTER_OPERATIONS,
    ("GET", "/me/balance/transfer"): Operation(BALANCE_TRANSFER),
    ("POST", "/me/payment-orders"): Operation(
        PAYMENT_ORDER, PAYMENT_ORDER_SCHEMA, errors=(404, 409, 503)
    ),
    ("GET", "/me/payment-orders"): Operation(page_of(PAYMENT_ORDER), query=PAGE),
    ("GET", "/me/payment-orders/{order_id}"): Operation(PAYMENT_ORDER, errors=(404,)),
    ("POST", "/payments/payu/notifications"): Operation(
        shape(status=STRING), raw_body=("application/json",), errors=(400,)
    ),
    ("GET", "/operator/payment-orders/unmatched"): Operation(UNMATCHED_PAYMENTS),
}
