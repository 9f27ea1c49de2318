"""Every SQL statement of auth (plain asyncpg), one module per area. Functions take the
connection (or pool) they run on; the caller owns the transaction."""

from __future__ import annotations

import asyncpg

Conn = asyncpg.Connection | asyncpg.Pool
