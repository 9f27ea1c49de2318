"""Typed keys of what the app and each request carry."""

from __future__ import annotations

import aiohttp
import jinja2
from aiohttp import web

from .gateway import Gateway
from .sessions import Session, SessionStore
from .settings import WebSettings

SETTINGS = web.AppKey("settings", WebSettings)
GATEWAY = web.AppKey("gateway", Gateway)
STORE = web.AppKey("store", SessionStore)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
HTTP = web.AppKey("http", aiohttp.ClientSession)

SESSION = web.RequestKey("session", Session)
