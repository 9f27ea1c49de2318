"""Issue #15 (ASVS 4.0.3 L2 review) in auth: each test fails with its defence removed."""

from __future__ import annotations

import pytest
from ebok_auth.passwords import policy_violations

from tests.auth.harness import Auth

PASSWORD = "Kropla-Deszczu-2026!x"
CONTEXT = "nazwie Spółki, miasta, e-BOK"


# -- item 10: context words ---------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "Wodociagi1",
        "Mpwik2024",
        "Ebok12345",
        "Kanalizacja1",
        "WODOCIĄGÓW-77",  # diacritics and case do not matter
        "e-BOK-2024!",
        "Warszawa2024!",
        "Warszawie#1x",
        "MPWiK-Wodomierz-9",
    ],
)
def test_passwords_built_on_context_words_are_refused(password: str) -> None:
    broken = policy_violations(password, "100001")
    assert len(broken) == 1 and CONTEXT in broken[0], broken


def test_a_phrase_mentioning_water_is_still_a_password() -> None:
    assert policy_violations("Moja-Woda-Jest-Czysta-7", "100001") == []
    assert policy_violations(PASSWORD, "100001") == []


async def test_a_context_password_is_refused_with_its_reason(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    tokens = await auth.customer("100001", PASSWORD)
    status, problem = await auth.call(
        "PUT",
        "/me/password",
        token=tokens["access_token"],
        json_body={"current_password": PASSWORD, "new_password": "Wodociągi1"},
    )
    assert status == 422 and problem["code"] == "password-policy"
    assert [e["field"] for e in problem["errors"]] == ["new_password"]
    assert CONTEXT in problem["errors"][0]["reason"]
