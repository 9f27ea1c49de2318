"""What the customer and operator handlers share: the running app's settings, rules, pool
and outbox; path parameters; several fields' parse errors gathered into one answer."""

from __future__ import annotations

import uuid
from functools import cache

import asyncpg
from aiohttp import web
from ebok_shared.bus import Outbox
from ebok_shared.http.params import bad
from ebok_shared.service import BUS, POOL

from .common.values import METER_SERIAL_RE
from .readings.domain import Rules
from .settings import ReadingsSettings


def settings(request: web.Request) -> ReadingsSettings:
    return ReadingsSettings.of(request.app)


@cache
def _rules(s: ReadingsSettings) -> Rules:
    return Rules.from_settings(s)


def rules(request: web.Request) -> Rules:
    return _rules(settings(request))


def pool(request: web.Request) -> asyncpg.Pool:
    return request.app[POOL]


def outbox(request: web.Request) -> Outbox:
    return request.app[BUS].outbox


def serial(request: web.Request) -> str:
    value = request.match_info["serial"]
    if not METER_SERIAL_RE.match(value):
        raise bad(
            "serial", "nieprawidłowy numer wodomierza (wielkie litery, cyfry i -, 3–30 znaków)"
        )
    return value


def uuid_param(request: web.Request, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise bad(name, "nieprawidłowy identyfikator") from None
