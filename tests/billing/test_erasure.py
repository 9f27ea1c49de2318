"""Issue #15 item 5: an erased e-BOK account leaves no e-invoice address that only it gave
(an unconfirmed one); a confirmed address, to which invoices went, stays with its consent."""

from __future__ import annotations

from ebok_billing.events import subscriptions

from tests.billing.helpers import Billing, billing_settings
from tests.billing.test_customer import A, _confirm, loaded  # noqa: F401  (fixture)

CONFIRMED = "jan@example.pl"
UNCONFIRMED = "jan.nowy@example.pl"


async def _addresses(billing: Billing) -> str:
    """Every e-invoice address billing keeps for A, as text."""
    rows = await billing.pool.fetch(
        "SELECT email FROM e_invoice_requests WHERE client_number = $1"
        " UNION ALL SELECT email FROM e_invoice_history WHERE client_number = $1"
        " UNION ALL SELECT email FROM e_invoice_consents WHERE client_number = $1",
        A,
    )
    return str([r["email"] for r in rows])


async def test_an_erased_account_leaves_no_unconfirmed_e_invoice_address(
    loaded: Billing,  # noqa: F811
) -> None:
    headers = loaded.issuer.customer(A)
    await loaded.client.put("/me/e-invoice", json={"email": CONFIRMED}, headers=headers)
    request = await loaded.tap.until("billing.e_invoice.confirmation_requested")
    await _confirm(loaded, request.payload["token"])
    asked = await loaded.client.put("/me/e-invoice", json={"email": UNCONFIRMED}, headers=headers)
    assert asked.status == 202
    assert UNCONFIRMED in await _addresses(loaded)

    await loaded.consumed(await loaded.emit("auth.account.deleted", {"client_number": A}))

    kept = await _addresses(loaded)
    assert UNCONFIRMED not in kept
    assert CONFIRMED in kept  # invoices went there: kept with the consent (VAT Act)
    assert (await loaded.get("/me/e-invoice", A))["pending"] is None


def test_billing_consumes_the_erasure_with_or_without_its_own_billing_run() -> None:
    for billing_run in (False, True):
        settings = billing_settings(
            "postgresql://x/y", "amqp://x", "", "http://x", billing_run=billing_run
        )
        assert "auth.account.deleted" in {s.event_type for s in subscriptions(settings)}
