"""A refusal becomes its problem in one place, with Retry-After and every field it names."""

from __future__ import annotations

import pytest
from ebok_shared.http.problems import from_refusal
from ebok_shared.refusals import Refusal, gather, invalid


def test_a_refusal_with_retry_after_sends_the_header() -> None:
    problem = from_refusal(Refusal(429, "rate-limited", "Zbyt wiele prób.", retry_after=42))
    assert problem.status == 429 and problem.code == "rate-limited"
    assert problem.headers == {"Retry-After": "42"}
    assert from_refusal(invalid("value", "za duży")).headers == {}


def _fails(field: str, reason: str) -> None:
    raise invalid(field, reason)


def test_gather_answers_every_result_or_refuses_once_naming_every_field() -> None:
    assert gather(lambda: 1, lambda: "a") == [1, "a"]
    with pytest.raises(Refusal) as refused:
        gather(
            lambda: 1,
            lambda: _fails("value", "to nie jest liczba"),
            lambda: _fails("read_on", "data z przyszłości"),
        )
    problem = from_refusal(refused.value)
    assert problem.status == 422 and problem.code == "validation"
    assert problem.errors == [
        {"field": "value", "reason": "to nie jest liczba"},
        {"field": "read_on", "reason": "data z przyszłości"},
    ]
    assert problem.detail == (
        "Popraw wskazane pola: value: to nie jest liczba; read_on: data z przyszłości"
    )
