"""Typed access to what the app holds for billing's handlers."""

from __future__ import annotations

from typing import cast

from aiohttp import web
from ebok_shared.service import SETTINGS as _SETTINGS

from .pdf import Utility
from .settings import BillingSettings


def settings(app: web.Application) -> BillingSettings:
    return cast(BillingSettings, app[_SETTINGS])


def utility(app: web.Application) -> Utility:
    s = settings(app)
    return utility_from(s)


def utility_from(s: BillingSettings) -> Utility:
    return Utility(
        s.utility_name,
        s.utility_street,
        s.utility_postal_code,
        s.utility_city,
        s.utility_nip,
        s.bank_prefix,
        s.ksef_qr_base,
    )
