"""The balance as a pure value (ebok_billing.ledger.domain): what it derives from its facts is
computed once, as it is made, and the overdue settlements it builds are exactly those of all
settlements that are past due and not paid in full."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from ebok_billing.interest.rates import InterestKind
from ebok_billing.interest.use_cases import load_default_rate_table
from ebok_billing.ledger.domain import (
    InvoiceFacts,
    NoteFacts,
    PaymentFacts,
    compute_balance,
    settlements,
)

TODAY = date(2025, 6, 30)
D = Decimal

INVOICES = [
    InvoiceFacts("1000012501", D("100.00"), date(2025, 1, 31), None),  # paid in full
    InvoiceFacts("1000012502", D("200.00"), date(2025, 2, 28), None),  # partly paid, overdue
    InvoiceFacts("1000012503", D("-50.00"), date(2025, 3, 15), "1000012502"),  # corrects it
    InvoiceFacts("1000012504", D("80.00"), date(2025, 3, 31), None),  # corrected to 0 below
    InvoiceFacts("1000012505", D("-80.00"), date(2025, 4, 10), "1000012504"),
    InvoiceFacts("1000012506", D("90.00"), date(2025, 7, 31), None),  # not due yet
    InvoiceFacts("1000012507", D("40.00"), date(2025, 5, 31), "1000019999"),  # stands alone
]
PRINCIPAL = [
    PaymentFacts("1000012501", date(2025, 1, 20), D("60.00"), "p1"),
    PaymentFacts("1000012501", date(2025, 1, 10), D("40.00"), "p2"),
    PaymentFacts("1000012503", date(2025, 4, 1), D("30.00"), "p3"),  # pays its group
]
NOTES = [
    NoteFacts(
        "N1",
        "1000012501",
        date(2025, 2, 5),
        date(2025, 2, 19),
        D("52.10"),
        D("10.00"),
        "1000012501",
        D("43.10"),
    ),
    NoteFacts("N2", "1000012502", date(2025, 6, 20), date(2025, 7, 4), D("3.00"), D("5.00")),
]


def test_overdue_settlements_are_those_of_all_past_due_and_not_paid_in_full() -> None:
    everything = settlements(INVOICES, PRINCIPAL)
    expected = [s for s in everything if s.outstanding > 0 and s.due_date < TODAY]
    overdue = settlements(INVOICES, PRINCIPAL, overdue_on=TODAY)
    assert overdue == expected
    assert [(s.invoice_number, s.gross, s.paid, s.outstanding) for s in overdue] == [
        ("1000012502", D("150.00"), D("30.00"), D("120.00")),
        ("1000012507", D("40.00"), D("0.00"), D("40.00")),
    ]
    first = everything[0]  # payments in the order they were made
    assert [p.payment_id for p in first.payments] == ["p2", "p1"]
    assert (first.paid, first.outstanding) == (D("100.00"), D("0.00"))


def test_a_balance_derives_its_totals_once_from_its_facts() -> None:
    b = compute_balance(
        INVOICES,
        PRINCIPAL,
        NOTES,
        D("140.00"),
        today=TODAY,
        kind=InterestKind.HOUSEHOLD,
        table=load_default_rate_table(),
        eur_rates={},
    )
    assert b.invoices_total == D("380.00")
    assert (b.notes_total, b.compensation_total) == (D("55.10"), D("43.10"))
    assert (b.notes_paid, b.notes_outstanding) == (D("13.00"), D("42.10"))
    assert [n.note_number for n in b.overdue_notes] == ["N1"]
    assert b.balance == D("295.10")  # 380.00 + 55.10 - 140.00
    assert [o.settlement.invoice_number for o in b.overdue] == ["1000012502", "1000012507"]
    assert b.overdue_amount == D("202.10")  # 120.00 + 40.00 + 42.10
    accrued = [o.accrued_to_today for o in b.overdue]
    assert all(a is not None and a > 0 for a in accrued)
    assert b.accruing_interest == sum((a for a in accrued if a is not None), D("0.00"))
    assert b.compensation_due == D("0.00")  # a household owes none
    assert b.accruing_interest is not None
    assert b.to_pay_today == b.balance + b.accruing_interest
    for o in b.overdue:
        assert o.to_pay_today == o.settlement.outstanding + (o.accrued_to_today or 0)
    assert b.text == "do zapłaty 295,10\u00a0zł"
