"""The ZBP "standard 2D" transfer payload, against the recommendation's own examples."""

from __future__ import annotations

from decimal import Decimal

import pytest
from ebok_billing.payments.transfer_qr import TITLE_MAX, TransferQr, amount_field, parse, title_for

ACCOUNT = "92124012340001567890123456"


def test_the_recommendations_examples() -> None:
    # "2D dla Odbiorcy typ 1 z kwotą płatności bez możliwości edycji"
    fixed = TransferQr("1234567890", ACCOUNT, Decimal("12.00"), "Odbiorca 1", "FV 1234/34/2012")
    assert fixed.payload() == (
        "1234567890|PL|92124012340001567890123456|001200|Odbiorca 1|FV 1234/34/2012|||"
    )
    # "... z manualnie uzupełnianą kwotą przez dokonującego płatność"
    manual = TransferQr("1234567890", ACCOUNT, Decimal("0"), "Odbiorca 1", "FV 1234/34/2012")
    assert manual.payload() == (
        "1234567890|PL|92124012340001567890123456|000000|Odbiorca 1|FV 1234/34/2012|||"
    )


def test_fields_are_cut_cleaned_and_the_account_unspaced() -> None:
    qr = TransferQr(
        "5250000009",
        "92 1240 1234 0001 5678 9012 3456",
        Decimal("1234.56"),
        "Miejskie Przedsiębiorstwo Wodociągów",
        "Faktury 10000126030003 | 10000126010002 i noty",
    )
    fields = parse(qr.payload())
    assert fields["account"] == ACCOUNT
    assert fields["amount"] == "123456"
    assert fields["recipient"] == "Miejskie Przedsiębio"  # 20 characters
    assert len(fields["title"]) <= TITLE_MAX and "|" not in fields["title"]
    assert fields["direct_debit_id"] == fields["invoobill_id"] == fields["reserved"] == ""


@pytest.mark.parametrize(
    ("amount", "field"),
    [("0.01", "000001"), ("9999.99", "999999"), ("10000.00", "000000"), ("12.345", "001234")],
)
def test_amount_in_grosze_six_digits(amount: str, field: str) -> None:
    assert amount_field(Decimal(amount)) == field


def test_bad_identifiers_are_refused() -> None:
    with pytest.raises(ValueError, match="NIP"):
        TransferQr("525000000", ACCOUNT, Decimal(1), "X", "Y").payload()
    with pytest.raises(ValueError, match="account"):
        TransferQr("5250000009", ACCOUNT[:-1], Decimal(1), "X", "Y").payload()
    with pytest.raises(ValueError, match="negative"):
        amount_field(Decimal("-1"))


def test_title_names_what_fits_and_counts_the_rest() -> None:
    assert title_for(["10000126030003"], "FV") == "FV 10000126030003"
    two = title_for(["10000126030003", "10000126010002"])
    assert two == "10000126030003 10000126010002"
    many = title_for(["10000126030003", "10000126010002", "N/2026/0001", "N/2026/0002"], "FV")
    assert many == "FV 10000126030003 +3" and len(many) <= TITLE_MAX
    for n in range(1, 12):
        numbers = [f"1000012603{i:04d}" for i in range(n)]
        assert len(title_for(numbers, "Saldo")) <= TITLE_MAX
