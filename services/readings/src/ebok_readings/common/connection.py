"""The connection and row types every readings repository module takes and gives."""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg

Conn: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"
Record: TypeAlias = asyncpg.Record
