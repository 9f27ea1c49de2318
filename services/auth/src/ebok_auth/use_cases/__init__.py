"""auth's actions, one async function each, by area: each opens its transaction, applies the
rules (``domain``), reads and writes through ``repository`` and adds its events. They refuse
with ``ebok_shared.refusals.Refusal``; they know nothing of HTTP."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from ..keys import KeyRing
from ..passwords import Hasher
from ..settings import AuthSettings


@dataclass(frozen=True)
class Deps:
    """What auth's actions work with."""

    pool: asyncpg.Pool
    settings: AuthSettings
    hasher: Hasher
    keyring: KeyRing
