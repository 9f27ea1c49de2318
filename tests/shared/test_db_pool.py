"""The shared pool gives connections back without a reset round trip (ebok_shared.db): what
a request could leave behind on one is still undone."""

from __future__ import annotations

from ebok_shared import db

from tests.support import infra


async def test_a_transaction_left_open_is_rolled_back_when_the_connection_goes_back(
    services: infra.Services,
) -> None:
    async with infra.fresh_database(services.pg_admin_dsn) as dsn:
        pool = await db.create_pool(dsn, min_size=1, max_size=1)
        try:
            await pool.execute("CREATE TABLE notes (text text NOT NULL)")
            async with pool.acquire() as conn:
                await conn.execute("BEGIN")
                await conn.execute("INSERT INTO notes VALUES ('never committed')")
            async with pool.acquire() as conn:  # the same, only connection
                assert not conn.is_in_transaction()
                assert await conn.fetchval("SELECT count(*) FROM notes") == 0
                assert await conn.fetchval("SELECT txid_current_if_assigned()") is None
        finally:
            await pool.close()


async def test_json_columns_still_come_back_decoded(services: infra.Services) -> None:
    async with infra.fresh_database(services.pg_admin_dsn) as dsn:
        pool = await db.create_pool(dsn, min_size=1, max_size=1)
        try:
            for _ in range(2):  # on a connection that went back to the pool in between
                assert await pool.fetchval("SELECT $1::jsonb", {"ż": [1, 2]}) == {"ż": [1, 2]}
        finally:
            await pool.close()
