"""What a login attempt needs, read in one round trip before hashing (the hot path)."""

from __future__ import annotations

import datetime as dt

import asyncpg

from . import Conn

# The account, its lockout, this IP's failures and, for a customer, the regulations
# versions its token depends on.
_LOAD = {
    "customer": """
SELECT a.*, f.locked_until, f.subject IS NOT NULL AS has_failures, r.hits AS ip_failures,
       (SELECT coalesce(max(version), 0) FROM regulations_acceptances
         WHERE client_number = $1) AS accepted_version,
       (SELECT coalesce(max(version), 0) FROM regulations
         WHERE effective_from <= $4) AS current_version
FROM (SELECT 1) one
LEFT JOIN accounts a ON a.client_number = $1 AND a.status <> 'pending'
LEFT JOIN login_failures f ON f.kind = 'customer' AND f.subject = $1
LEFT JOIN rate_counters r ON r.key = $2 AND r.window_start = $3""",
    "operator": """
SELECT o.*, f.locked_until, f.subject IS NOT NULL AS has_failures, r.hits AS ip_failures
FROM (SELECT 1) one
LEFT JOIN operators o ON o.login = $1 AND o.active
LEFT JOIN login_failures f ON f.kind = 'operator' AND f.subject = $1
LEFT JOIN rate_counters r ON r.key = $2 AND r.window_start = $3""",
}


async def load(
    conn: Conn, kind: str, login: str, ip_key: str, window_start: dt.datetime, now: dt.datetime
) -> asyncpg.Record:
    """Always one row: the account's columns are NULL when there is no such account."""
    args: list[object] = [login, ip_key, window_start]
    if kind == "customer":
        args.append(now)
    return await conn.fetchrow(_LOAD[kind], *args)
