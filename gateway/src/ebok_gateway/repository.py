"""Gateway SQL: portal settings (the only data the gateway owns besides the shared tables),
and the notifications that keep every replica's memory of them, and of customers' views,
current."""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg

PORTAL_NOTIFY = "ebok_portal_settings"
VIEWS_NOTIFY = "ebok_views_changed"  # payload: a client number, or "*" for every client


Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool


async def portal_settings(conn: Conn) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    """Every section's mode and message, and every hidden item."""
    sections = await conn.fetch("SELECT section, mode, message FROM portal_sections")
    items = await conn.fetch("SELECT section, item_id FROM hidden_items")
    return sections, items


async def set_section(
    conn: asyncpg.Connection, section: str, mode: str, message: str | None, actor: str
) -> None:
    async with conn.transaction():
        await conn.execute(
            """INSERT INTO portal_sections (section, mode, message, changed_by)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (section) DO UPDATE SET mode = EXCLUDED.mode, message = EXCLUDED.message,
                   changed_by = EXCLUDED.changed_by, changed_at = now()""",
            section,
            mode,
            message,
            actor,
        )
        await _history(conn, {"section": section, "mode": mode, "message": message}, actor)


async def set_item_hidden(
    conn: asyncpg.Connection, section: str, item_id: str, hidden: bool, actor: str
) -> None:
    async with conn.transaction():
        if hidden:
            await conn.execute(
                "INSERT INTO hidden_items (section, item_id, changed_by) VALUES ($1, $2, $3)"
                " ON CONFLICT DO NOTHING",
                section,
                item_id,
                actor,
            )
        else:
            await conn.execute(
                "DELETE FROM hidden_items WHERE section = $1 AND item_id = $2", section, item_id
            )
        await _history(conn, {"section": section, "item_id": item_id, "hidden": hidden}, actor)
        # Kept views were fetched with the old hidden set (the services' lists leave hidden
        # items out themselves): an item shown again must not wait for the cache's ttl.
        await conn.execute("SELECT pg_notify($1, '*')", VIEWS_NOTIFY)


async def _history(conn: asyncpg.Connection, change: dict[str, Any], actor: str) -> None:
    await conn.execute(
        "INSERT INTO portal_settings_history (change, changed_by) VALUES ($1, $2)", change, actor
    )
    await conn.execute("SELECT pg_notify($1, '')", PORTAL_NOTIFY)


async def settings_history(pool: asyncpg.Pool, limit: int) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT change, changed_by, changed_at FROM portal_settings_history"
        " ORDER BY id DESC LIMIT $1",
        limit,
    )
    return [
        {
            "change": r["change"],
            "changed_by": r["changed_by"],
            "changed_at": r["changed_at"].isoformat(),
        }
        for r in rows
    ]


async def views_changed(conn: asyncpg.Connection | asyncpg.Pool, clients: list[str]) -> None:
    """Tell every replica (on commit, if in a transaction) to drop these clients' views."""
    await conn.execute(
        "SELECT pg_notify($1, client) FROM unnest($2::text[]) AS client", VIEWS_NOTIFY, clients
    )
