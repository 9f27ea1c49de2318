"""Billing's events as the other services' tests feed them (the consumer side): one valid
payload of each, with the values a test cares about as arguments (checked against the
catalogue wherever they are published)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SUPPLY_ADDRESS = {"street": "ul. Żelazna 12", "postal_code": "00-001", "city": "Warszawa"}


def contract_concluded(
    client_number: str = "100001",
    *,
    contract_number: str | None = None,
    concluded_on: str = "2024-01-15",
    serials: Sequence[str] | None = None,
) -> dict[str, Any]:
    """``billing.contract.concluded``: by default U/<client>/2024 with meter WM-<client>-1."""
    return {
        "contract_number": contract_number or f"U/{client_number}/2024",
        "client_number": client_number,
        "concluded_on": concluded_on,
        "supply_address": dict(SUPPLY_ADDRESS),
        "tariff_group": "G1",
        "meter_serials": list(serials) if serials is not None else [f"WM-{client_number}-1"],
    }


def invoice_issued(
    invoice_number: str,
    client_number: str = "100001",
    *,
    gross: str = "108.00",
    e_invoice_email: str | None = None,
) -> dict[str, Any]:
    """``billing.invoice.issued``: 100.00 net, 8% VAT; sent by e-mail when an address is given,
    on paper otherwise."""
    return {
        "invoice_number": invoice_number,
        "client_number": client_number,
        "issue_date": "2026-01-05",
        "due_date": "2026-01-19",
        "net": "100.00",
        "vat": "8.00",
        "gross": gross,
        "ksef_number": None,
        "delivery": "e-mail" if e_invoice_email else "paper",
        "e_invoice_email": e_invoice_email,
    }


def client_upserted(
    client_number: str = "100001", *, email: str | None = "jan@example.pl"
) -> dict[str, Any]:
    """``billing.client.upserted``: a household, Jan Kowalski."""
    return {
        "client_number": client_number,
        "name": "Jan Kowalski",
        "kind": "household",
        "nip": None,
        "email": email,
        "address": dict(SUPPLY_ADDRESS),
    }
