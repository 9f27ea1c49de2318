"""What handlers take from the running app: settings, rules, the pool and the outbox."""

from __future__ import annotations

from functools import cache
from typing import cast

import asyncpg
from aiohttp import web
from ebok_shared.bus import Outbox
from ebok_shared.service import BUS, POOL, SETTINGS

from .operations import Rules
from .settings import ReadingsSettings


def settings(request: web.Request) -> ReadingsSettings:
    return cast(ReadingsSettings, request.app[SETTINGS])


@cache
def _rules(s: ReadingsSettings) -> Rules:
    return Rules.from_settings(s)


def rules(request: web.Request) -> Rules:
    return _rules(settings(request))


def pool(request: web.Request) -> asyncpg.Pool:
    return request.app[POOL]


def outbox(request: web.Request) -> Outbox:
    return request.app[BUS].outbox
