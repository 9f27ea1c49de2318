"""Settings from environment variables, validated once at start.

A settings class is a frozen dataclass; each field reads ``EBOK_<FIELD>`` (upper case).
A field without a default is required. A missing or invalid variable stops the process
with one line naming it (``ConfigError`` is caught by the entry point).
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from typing import Any, Self

PREFIX = "EBOK_"


class ConfigError(Exception):
    """A variable is missing or invalid; the message names it."""


class Secret(str):
    """A string that never shows its value in repr or logs."""

    def __repr__(self) -> str:
        return "Secret('***')"

    def reveal(self) -> str:
        return str.__str__(self)


def _parse(name: str, raw: str, kind: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):  # Optional[X]
        inner = next(a for a in typing.get_args(kind) if a is not type(None))
        return None if raw == "" else _parse(name, raw, inner)
    if origin is tuple:
        (inner, _ellipsis) = typing.get_args(kind)
        return tuple(_parse(name, part.strip(), inner) for part in raw.split(",") if part.strip())
    if kind is bool:
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name}: expected true/false, got {raw!r}")
    if kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            raise ConfigError(f"{name}: expected {kind.__name__}, got {raw!r}") from None
    if kind is Secret:
        return Secret(raw)
    return raw


class Settings:
    """Base for settings dataclasses: ``MySettings.from_env()``."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        env = os.environ if environ is None else environ
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        # a Self-typed class is a dataclass only at runtime (Settings subclasses)
        for field in dataclasses.fields(cls):  # type: ignore[arg-type]
            if field.name in overrides:
                values[field.name] = overrides[field.name]
                continue
            var = PREFIX + field.name.upper()
            if var in env:
                values[field.name] = _parse(var, env[var], hints[field.name])
            elif (
                field.default is dataclasses.MISSING
                and field.default_factory is dataclasses.MISSING
            ):
                raise ConfigError(f"{var}: required environment variable is not set")
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Cross-field checks; raise ConfigError naming the variable."""
