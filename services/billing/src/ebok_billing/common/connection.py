"""The connection and row types every repository module takes and gives."""

from __future__ import annotations

from typing import TypeAlias

import asyncpg

Conn: TypeAlias = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
Record: TypeAlias = asyncpg.Record
