"""Typed app keys for auth's own resources (kept apart from app.py to avoid import cycles)."""

from __future__ import annotations

from aiohttp import web

from .keys import KeyRing
from .passwords import Hasher

KEYRING = web.AppKey("keyring", KeyRing)
HASHER = web.AppKey("hasher", Hasher)
