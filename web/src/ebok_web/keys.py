"""Typed keys of what the app and each request carry."""

from __future__ import annotations

import aiohttp
import jinja2
from aiohttp import web

from .gateway import Gateway
from .kept_pages import KeptPages
from .sessions import Session, SessionStore
from .settings import WebSettings

SETTINGS = web.AppKey("settings", WebSettings)
GATEWAY = web.AppKey("gateway", Gateway)
STORE = web.AppKey("store", SessionStore)
# Operators' sessions: a store of their own (its own Redis prefix), nothing shared with customers.
OPERATOR_STORE = web.AppKey("operator_store", SessionStore)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
HTTP = web.AppKey("http", aiohttp.ClientSession)
KEPT_PAGES = web.AppKey("kept_pages", KeptPages)

SESSION = web.RequestKey("session", Session)


def is_console(request: web.Request) -> bool:
    """The operator console (``/operator``): its own cookie, store and layout."""
    return request.path == "/operator" or request.path.startswith("/operator/")


def store_of(request: web.Request) -> SessionStore:
    """The session store of the request's audience: customers' or operators'."""
    return request.app[OPERATOR_STORE] if is_console(request) else request.app[STORE]
