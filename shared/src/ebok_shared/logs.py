"""structlog as JSON lines, with context (correlation id, event id…) bound per request/message.

Standard-library loggers (aiohttp, aio-pika, asyncpg) are routed through the same renderer.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

import structlog

from .config import Secret

correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)

_SECRET_KEYS = frozenset(
    {
        "password",
        "new_password",
        "current_password",
        "token",
        "access_token",
        "refresh_token",
        "authorization",
        "secret",
        "otp",
        "code",
        "cookie",
        "set_cookie",
    }
)
# Any key ending so is secret too: db_password, api_token, client_secret, x_api_key…
_SECRET_SUFFIXES = ("password", "token", "secret", "authorization", "api_key", "cookie")
_NOT_SCANNED = frozenset({"event", "exc_info", "stack_info", "_record", "_from_structlog"})
_REDACTED = "***"
_MAX_DEPTH = 6


def _is_secret_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    low = key.lower().replace("-", "_")
    return low in _SECRET_KEYS or low.endswith(_SECRET_SUFFIXES)


def _scrub(value: Any, depth: int = 0) -> Any:
    """``value`` with secret-named keys and ``Secret`` values masked (copies, never mutates)."""
    if isinstance(value, Secret):
        return _REDACTED
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {
            k: _REDACTED if _is_secret_key(k) else _scrub(v, depth + 1) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return tuple(_scrub(v, depth + 1) for v in value)
    return value


def _redact(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Belt and braces: a secret never reaches the log line, at any depth or letter case."""
    for key, value in event_dict.items():
        if key in _NOT_SCANNED:
            continue
        event_dict[key] = _REDACTED if _is_secret_key(key) else _scrub(value)
    return event_dict


def _add_correlation_id(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    cid = correlation_id_var.get()
    if cid is not None:
        event_dict.setdefault("correlation_id", cid)
    return event_dict


def configure(service: str, level: str = "INFO", *, cache: bool = True) -> None:
    """JSON lines on stdout. ``cache=False`` (tests) lets a later configure() reach loggers
    already used, so a test can capture what a module's logger writes."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _add_correlation_id,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=cache,
    )
    structlog.contextvars.bind_contextvars(service=service)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiormq").setLevel(max(logging.INFO, root.level))


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
