"""Typed app keys for auth's own resources (kept apart from app.py to avoid import cycles)."""

from __future__ import annotations

from aiohttp import web

from .keys import KeyRing
from .passwords import Hasher
from .settings import AuthSettings

KEYRING = web.AppKey("keyring", KeyRing)
HASHER = web.AppKey("hasher", Hasher)
AUTH_SETTINGS = web.AppKey("auth_settings", AuthSettings)
