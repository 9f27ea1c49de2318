"""Clients and contracts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..common.connection import Conn, Record
from .domain import ClientData, ContractData


async def insert_clients(conn: Conn, rows: Sequence[ClientData]) -> None:
    await conn.copy_records_to_table(
        "clients",
        columns=["client_number", "name", "kind", "nip", "email", "street", "postal_code", "city"],
        records=[
            (
                r.client_number,
                r.name,
                r.kind,
                r.nip,
                r.email,
                r.address.street,
                r.address.postal_code,
                r.address.city,
            )
            for r in rows
        ],
    )


async def update_clients(conn: Conn, rows: Sequence[ClientData]) -> None:
    await conn.executemany(
        """UPDATE clients SET name = $2, kind = $3, nip = $4, email = $5, street = $6,
               postal_code = $7, city = $8, updated_at = now()
           WHERE client_number = $1""",
        [
            (
                r.client_number,
                r.name,
                r.kind,
                r.nip,
                r.email,
                r.address.street,
                r.address.postal_code,
                r.address.city,
            )
            for r in rows
        ],
    )


def _contract_values(r: ContractData) -> tuple[Any, ...]:
    return (
        r.contract_number,
        r.client_number,
        r.concluded_on,
        r.terminated_on,
        r.address.street,
        r.address.postal_code,
        r.address.city,
        r.tariff_group,
        list(r.meter_serials),
    )


async def insert_contracts(conn: Conn, rows: Sequence[ContractData]) -> None:
    await conn.copy_records_to_table(
        "contracts",
        columns=[
            "contract_number",
            "client_number",
            "concluded_on",
            "terminated_on",
            "street",
            "postal_code",
            "city",
            "tariff_group",
            "meter_serials",
        ],
        records=[_contract_values(r) for r in rows],
    )


async def update_contracts(conn: Conn, rows: Sequence[ContractData]) -> None:
    await conn.executemany(
        """UPDATE contracts SET client_number = $2, concluded_on = $3, terminated_on = $4,
               street = $5, postal_code = $6, city = $7, tariff_group = $8,
               meter_serials = $9, updated_at = now()
           WHERE contract_number = $1""",
        [_contract_values(r) for r in rows],
    )


async def active_contracts(conn: Conn, client_numbers: Sequence[str]) -> dict[str, int]:
    rows = await conn.fetch(
        """SELECT c.client_number, count(k.contract_number) AS active
           FROM unnest($1::text[]) AS c(client_number)
           LEFT JOIN contracts k ON k.client_number = c.client_number
                                AND k.terminated_on IS NULL
           GROUP BY c.client_number""",
        list(client_numbers),
    )
    return {r["client_number"]: r["active"] for r in rows}


async def client(conn: Conn, client_number: str) -> Record | None:
    return await conn.fetchrow("SELECT * FROM clients WHERE client_number = $1", client_number)


async def lock_client(conn: Conn, client_number: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT * FROM clients WHERE client_number = $1 FOR UPDATE", client_number
    )


async def contract_of(conn: Conn, contract_number: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT * FROM contracts WHERE contract_number = $1", contract_number
    )


async def contracts_of(conn: Conn, client_number: str) -> list[Record]:
    return await conn.fetch(
        "SELECT * FROM contracts WHERE client_number = $1 ORDER BY concluded_on, contract_number",
        client_number,
    )


async def contract_client_kind(conn: Conn, contract_number: str) -> Record | None:
    return await conn.fetchrow(
        """SELECT k.*, c.kind, c.name AS client_name, c.street AS client_street,
                  c.postal_code AS client_postal_code, c.city AS client_city, c.nip
           FROM contracts k JOIN clients c USING (client_number)
           WHERE k.contract_number = $1""",
        contract_number,
    )
