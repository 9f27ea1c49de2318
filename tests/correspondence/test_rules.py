"""The pure rules: file types from magic numbers, safe file names, deadlines in Warsaw's
calendar, case numbers, and which operator action a case's state allows."""

from __future__ import annotations

import datetime as dt

import pytest
from ebok_correspondence import domain, files
from ebok_correspondence.domain import Kind, RuleBroken, Status

from tests.correspondence.harness import EXE, JPEG, PDF, PNG


def test_the_type_is_judged_from_the_first_bytes_only() -> None:
    assert files.sniff(PDF) == "application/pdf"
    assert files.sniff(JPEG) == "image/jpeg"
    assert files.sniff(PNG) == "image/png"
    for other in (EXE, b"", b"%PD", b"GIF89a", b"<html>%PDF-", b"\x89PNG\r\n"):
        assert files.sniff(other) is None, other


@pytest.mark.parametrize(
    ("raw", "media_type", "shown"),
    [
        ("skan.pdf", "application/pdf", "skan.pdf"),
        ("skan.pdf", "image/png", "skan.png"),  # the bytes decide the extension
        ("zdjęcie.JPEG", "image/jpeg", "zdjęcie.JPEG"),
        ("C:\\Users\\jan\\faktura.pdf", "application/pdf", "faktura.pdf"),
        ("../../etc/passwd", "application/pdf", "passwd.pdf"),
        ('a"b;c<d>.png', "image/png", "a_b_c_d_.png"),
        ("raport.v2", "application/pdf", "raport.v2.pdf"),
        ("", "image/jpeg", "zalacznik-3.jpg"),
        (None, "image/png", "zalacznik-3.png"),
        ("x" * 300 + ".pdf", "application/pdf", "x" * 146 + ".pdf"),
    ],
)
def test_file_names_are_safe_and_match_the_type(
    raw: str | None, media_type: str, shown: str
) -> None:
    assert files.safe_filename(raw, media_type, 2) == shown


def test_content_disposition_keeps_polish_names_and_an_ascii_fallback() -> None:
    header = files.content_disposition("zażółć gęślą.pdf")
    assert header == (
        'attachment; filename="zazolc gesla.pdf"; '
        "filename*=UTF-8''za%C5%BC%C3%B3%C5%82%C4%87%20g%C4%99%C5%9Bl%C4%85.pdf"
    )


def test_the_deadline_counts_from_the_local_date_for_reklamacje_and_complaints() -> None:
    late_evening_utc = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)  # 00:30 on 2 March
    assert domain.reply_due(Kind.REKLAMACJA, late_evening_utc, 14) == dt.date(2026, 3, 16)
    assert domain.reply_due(Kind.WATER_QUALITY_COMPLAINT, late_evening_utc, 14) == dt.date(
        2026, 3, 16
    )
    for kind in (Kind.FAILURE_REPORT, Kind.DATA_CHANGE, Kind.LETTER):
        assert domain.reply_due(kind, late_evening_utc, 14) is None
    assert domain.extended_due(dt.date(2026, 3, 16), 16) == dt.date(2026, 4, 1)
    assert domain.local_year(dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)) == 2027


def test_case_numbers_are_readable_and_sort_within_a_year() -> None:
    assert domain.case_number("EBOK", 2026, 123) == "EBOK/2026/000123"
    numbers = [domain.case_number("EBOK", 2026, n) for n in (9, 10, 99_999, 100_000)]
    assert numbers == sorted(numbers)


def test_what_each_state_allows() -> None:
    assert domain.check_assign(Status.RECEIVED) is Status.IN_PROGRESS
    assert domain.check_assign(Status.ANSWERED) is Status.ANSWERED
    assert domain.check_reply(Status.IN_PROGRESS) is Status.ANSWERED
    assert domain.check_status_change(Status.ANSWERED, Status.IN_PROGRESS, 1) is Status.IN_PROGRESS
    with pytest.raises(RuleBroken, match="najpierw udziel odpowiedzi"):
        domain.check_status_change(Status.RECEIVED, Status.ANSWERED, 0)
    with pytest.raises(RuleBroken, match="osobną czynnością"):
        domain.check_status_change(Status.RECEIVED, Status.CLOSED, 0)
    for action in (domain.check_assign, domain.check_reply, domain.check_close):
        with pytest.raises(RuleBroken) as refused:
            action(Status.CLOSED)
        assert refused.value.code == "case-closed"
    domain.check_evidence(Kind.REKLAMACJA, Status.IN_PROGRESS, None)
    with pytest.raises(RuleBroken) as refused:
        domain.check_evidence(Kind.LETTER, Status.IN_PROGRESS, None)
    assert refused.value.code == "no-deadline"
    assert domain.is_urgent(Kind.FAILURE_REPORT) and not domain.is_urgent(Kind.REKLAMACJA)
