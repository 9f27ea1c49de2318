"""An audit row and its seal commit together, also when the seal goes with the COMMIT in
one round trip (``audit.insert_sealed`` given the pool: the login's path)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ebok_auth.audit_seal import AuditSeal
from ebok_auth.repository import audit
from ebok_auth.use_cases.audit import verify_chain

from tests.auth.harness import AUDIT_KEYS, Auth

SEAL = AuditSeal.parse(AUDIT_KEYS)
ROW = (
    "INSERT INTO audit_log (occurred_at, type, actor, subject) VALUES (now(), $1, 'system', $2)"
    " RETURNING id, row_hash"
)


@pytest.fixture
def sealer() -> Iterator[None]:
    """Whatever a test installs as the seal, the app's own is back after it."""
    yield
    audit.use_seal(SEAL.seal)


async def _rows(auth: Auth, type_: str) -> list[tuple[str, bytes, bytes]]:
    rows = await auth.pool.fetch(
        "SELECT s.key_id, s.mac, a.row_hash FROM audit_log a"
        " JOIN audit_seals s ON s.row_id = a.id WHERE a.type = $1",
        type_,
    )
    return [(r["key_id"], r["mac"], r["row_hash"]) for r in rows]


async def test_a_row_and_its_seal_commit_together_in_the_pools_own_transaction(
    auth: Auth, sealer: None
) -> None:
    await audit.insert_sealed(auth.pool, ROW, "test.sealed", "100001")
    [(key_id, mac, row_hash)] = await _rows(auth, "test.sealed")
    assert key_id == "a2" and SEAL.holds(key_id, row_hash, mac)
    # A key id that is not plain takes the path with parameters: the same seal, committed.
    audit.use_seal(lambda row_hash: ("klucz 'ą'", SEAL.seal(row_hash)[1]))
    await audit.insert_sealed(auth.pool, ROW, "test.quoted", "100001")
    [(key_id, mac, row_hash)] = await _rows(auth, "test.quoted")
    assert key_id == "klucz 'ą'" and mac == SEAL.seal(row_hash)[1]
    # Inside a caller's transaction: a savepoint, committed with the caller's.
    audit.use_seal(SEAL.seal)
    async with auth.pool.acquire() as conn, conn.transaction():
        await audit.insert_sealed(conn, ROW, "test.nested", "100001")
    assert len(await _rows(auth, "test.nested")) == 1


async def test_a_seal_that_fails_leaves_neither_row_nor_seal_and_the_connection_clean(
    auth: Auth, sealer: None
) -> None:
    def broken(row_hash: bytes) -> tuple[str, bytes]:
        raise RuntimeError("no key")

    audit.use_seal(broken)
    with pytest.raises(RuntimeError, match="no key"):
        await audit.insert_sealed(auth.pool, ROW, "test.unsealed", "100001")
    audit.use_seal(lambda row_hash: ("a2", b"x" * 32))
    with pytest.raises(Exception, match="audit_seals"):  # a row id that is not there
        await audit.insert_sealed(
            auth.pool,
            "INSERT INTO audit_log (occurred_at, type, actor) VALUES (now(), 'test.gone',"
            " 'system') RETURNING id + 1000000 AS id, row_hash",
        )
    assert (
        await auth.pool.fetchval(
            "SELECT count(*) FROM audit_log WHERE type IN ('test.unsealed', 'test.gone')"
        )
        == 0
    )
    for _ in range(auth.pool.get_size()):  # every connection back in the pool is usable
        async with auth.pool.acquire() as conn:
            assert not conn.is_in_transaction()
    audit.use_seal(SEAL.seal)
    await audit.insert_sealed(auth.pool, ROW, "test.after", None)
    assert (await verify_chain(auth.pool, SEAL))["first_broken_id"] is None
