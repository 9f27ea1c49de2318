"""readings SQL: every statement of the service, plain asyncpg, one module per area."""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg

Conn: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"
Record: TypeAlias = asyncpg.Record
