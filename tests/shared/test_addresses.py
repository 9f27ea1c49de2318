"""The one rule for e-mail addresses coming in (issue #15 item 15): what the notifier would
refuse to send to is refused at input, by every schema with ``format: email``."""

from __future__ import annotations

import pytest
from ebok_shared.addresses import email_problem, valid_email
from ebok_shared.http.problems import Problem
from ebok_shared.http.validation import validate

ACCEPTED = [
    "jan@example.pl",
    "jan.kowalski+faktury@sub.example.com",
    "o'brien@example.ie",
    "jan@gęślą.pl",  # an internationalised domain
]
REFUSED = [
    '"jan"@example.pl',  # a quoted local part
    '"jan kowalski"@example.pl',
    "<b>jan</b>@example.pl",  # HTML in the local part
    "a<img src=x>@example.pl",
    "zażółć@example.pl",  # the notifier's MIME library refuses a non-ASCII local part
    "Jan Kowalski <jan@example.pl>",  # a display name
    "jan@example.pl\nBcc: x@example.pl",
    "jan@example.pl\n",
    "jan..kowalski@example.pl",
    ".jan@example.pl",
    "jan@example",
    "jan@ex_ample.pl",
    "jan@[127.0.0.1]",
    "a\\b@example.pl",
    "ａ＜b@example.pl",  # fullwidth look-alike of "<"
    "x" * 65 + "@example.pl",
    "jan@" + "a" * 250 + ".pl",
]


@pytest.mark.parametrize("address", ACCEPTED)
def test_plain_addresses_are_accepted(address: str) -> None:
    assert valid_email(address), email_problem(address)


@pytest.mark.parametrize("address", REFUSED)
def test_addresses_the_notifier_would_refuse_are_refused(address: str) -> None:
    assert not valid_email(address)
    with pytest.raises(Problem) as refused:
        validate(
            {"email": address}, {"type": "object", "properties": {"email": {"format": "email"}}}
        )
    assert refused.value.errors == [
        {"field": "email", "reason": "nieprawidłowy format (adres e-mail)"}
    ]


def test_the_notifier_builds_a_to_header_for_every_accepted_address() -> None:
    """The same rule on both sides: what is taken in can be sent to."""
    from ebok_notifier.compose import recipient_address

    for address in ACCEPTED:
        assert recipient_address(address).addr_spec == address
