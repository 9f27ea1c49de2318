"""SQL of what readings keeps about clients: their contracts (billing's projection)
and their personal data (the export, unlinking a deleted account)."""

from __future__ import annotations

import datetime as dt

from ..common.connection import Conn, Record


async def upsert_contract(
    conn: Conn, contract_number: str, client_number: str, concluded_on: dt.date
) -> None:
    await conn.execute(
        """INSERT INTO contracts (contract_number, client_number, concluded_on)
           VALUES ($1, $2, $3)
           ON CONFLICT (contract_number) DO UPDATE SET client_number = EXCLUDED.client_number,
               concluded_on = EXCLUDED.concluded_on, updated_at = now()""",
        contract_number,
        client_number,
        concluded_on,
    )


async def terminate_contract(
    conn: Conn, contract_number: str, client_number: str, terminated_on: dt.date
) -> None:
    """Only a contract this service knows (its concluded event came first, in order)."""
    await conn.execute(
        """UPDATE contracts SET terminated_on = $3, updated_at = now()
           WHERE contract_number = $1 AND client_number = $2""",
        contract_number,
        client_number,
        terminated_on,
    )


async def contract(conn: Conn, contract_number: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT * FROM contracts WHERE contract_number = $1", contract_number
    )


async def client_contracts(conn: Conn, client_number: str) -> list[Record]:
    return await conn.fetch(
        "SELECT * FROM contracts WHERE client_number = $1 ORDER BY concluded_on, contract_number",
        client_number,
    )


async def client_photos(conn: Conn, client_number: str) -> list[Record]:
    """The client's photos without their content (the export lists them)."""
    return await conn.fetch(
        "SELECT id, content_type, size, sha256, uploaded_at FROM photos"
        " WHERE client_number = $1 ORDER BY uploaded_at",
        client_number,
    )


async def unlink_client(conn: Conn, client_number: str, at: dt.datetime) -> None:
    """The account was deleted: its photos go, who-submitted no longer names the person's
    account; readings and meters stay (the utility's records)."""
    await conn.execute(
        """INSERT INTO unlinked_clients (client_number, unlinked_at) VALUES ($1, $2)
           ON CONFLICT DO NOTHING""",
        client_number,
        at,
    )
    await conn.execute("DELETE FROM photos WHERE client_number = $1", client_number)
    await conn.execute(
        """UPDATE readings SET submitted_by = 'customer:account-deleted', idempotency_key = NULL
           WHERE client_number = $1 AND submitted_by LIKE 'customer:%'""",
        client_number,
    )
    await conn.execute(
        """UPDATE garden_requests SET submitted_by = 'customer:account-deleted',
               idempotency_key = NULL WHERE client_number = $1""",
        client_number,
    )
    await conn.execute(
        """UPDATE garden_request_history SET by = 'customer:account-deleted'
           WHERE by LIKE 'customer:%' AND request_id IN
               (SELECT id FROM garden_requests WHERE client_number = $1)""",
        client_number,
    )


async def is_unlinked(conn: Conn, client_number: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM unlinked_clients WHERE client_number = $1", client_number
        )
    )
