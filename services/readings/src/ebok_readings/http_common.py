"""What the customer and operator handlers share: the running app's settings, rules, pool
and outbox; path parameters; several fields' parse errors gathered into one answer."""

from __future__ import annotations

import uuid

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


# The app's settings and the rules made of them, by the settings' identity: a cache keyed
# by the settings themselves hashed every field of the frozen dataclass on every request.
_RULES: dict[int, tuple[ReadingsSettings, Rules]] = {}


def rules(request: web.Request) -> Rules:
    s = settings(request)
    made = _RULES.get(id(s))
    if made is None or made[0] is not s:  # the id of settings since collected: made again
        made = _RULES[id(s)] = (s, Rules.from_settings(s))
    return made[1]


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
