"""Billing's own run: pricing a reading's consumption by the contract's tariff. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ..ledger.domain import Lines


@dataclass(frozen=True)
class Tariff:
    tariff_group: str
    valid_from: date
    water_price: Decimal
    sewage_price: Decimal
    subscription_fee: Decimal
    vat_rate: Decimal


def price_consumption(main_m3: Decimal, garden_m3: Decimal, tariff: Tariff) -> Lines:
    """Water is billed on the main meter; water that went through a garden meter (a
    sub-meter behind the main one) is not billed as sewage."""
    if main_m3 < 0 or garden_m3 < 0:
        raise ValueError("consumption must not be negative")
    sewage = max(main_m3 - garden_m3, Decimal("0.000"))
    return Lines(
        water_m3=main_m3,
        water_price=tariff.water_price,
        sewage_m3=sewage,
        sewage_price=tariff.sewage_price,
        subscription_net=tariff.subscription_fee,
        vat_rate=tariff.vat_rate,
    )
