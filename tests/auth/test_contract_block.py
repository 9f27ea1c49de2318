"""Terms II.7: the account is blocked at the latest 30 days after the last contract ends."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from ebok_auth import scheduler
from ebok_shared.clock import LOCAL_TZ, clock
from ebok_shared.config import ConfigError

from tests.auth.harness import Auth, settings_for
from tests.support.payloads import contract_concluded

PASSWORD = "Kropla-Deszczu-2026!x"


def _terminated(number: str, on: str, left: int = 0, contract: str | None = None) -> dict:
    return {
        "contract_number": contract or f"U/{number}/2024",
        "client_number": number,
        "terminated_on": on,
        "active_contracts_left": left,
    }


async def test_block_is_scheduled_and_happens_30_days_after_termination(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    tokens = await auth.customer("100001", PASSWORD)
    await auth.billing(
        "billing.contract.concluded", contract_concluded("100001", contract_number="U/100001/2025")
    )
    # One of two contracts ends: nothing to do yet.
    await auth.billing(
        "billing.contract.terminated",
        _terminated("100001", "2026-10-31", left=1, contract="U/100001/2025"),
    )
    await auth.billing("billing.contract.terminated", _terminated("100001", "2026-10-31"))
    scheduled = await auth.tap.payload("auth.account.block_scheduled", client_number="100001")
    assert scheduled == {
        "client_number": "100001",
        "email": "jan@example.pl",
        "block_on": "2026-11-30",
    }
    assert len(auth.tap.of("auth.account.block_scheduled")) == 1
    # The planned date is shown to the customer and in the operator's account view.
    status, me = await auth.call("GET", "/me", token=tokens["access_token"])
    assert status == 200 and me["block_scheduled_on"] == "2026-11-30"
    op = await auth.operator()
    status, account = await auth.call("GET", "/operator/accounts/100001", token=op["access_token"])
    assert status == 200 and account["block_scheduled_on"] == "2026-11-30"

    clock.freeze(dt.datetime(2026, 11, 29, 23, 0, tzinfo=LOCAL_TZ))
    await scheduler.tick(auth.app)
    assert await auth.pool.fetchval("SELECT status FROM accounts") == "active"

    clock.freeze(dt.datetime(2026, 11, 30, 0, 5, tzinfo=LOCAL_TZ))
    # Two replicas at once: the due row is claimed by one of them only.
    await asyncio.gather(scheduler.block_due(auth.pool), scheduler.block_due(auth.pool))
    blocked = await auth.tap.payload("auth.account.blocked", client_number="100001")
    assert blocked["by"] == "system:contract-end" and "II.7" in blocked["reason"]
    assert await auth.pool.fetchval("SELECT status FROM accounts") == "blocked"
    assert await auth.pool.fetchval("SELECT count(*) FROM scheduled_blocks") == 0
    await scheduler.tick(auth.app)  # nothing left to do; survives being run again
    assert (
        await auth.pool.fetchval("SELECT count(*) FROM audit_log WHERE type = 'account.blocked'")
        == 1
    )
    clock.reset()
    assert (
        await auth.call(
            "POST", "/sessions/refresh", json_body={"refresh_token": tokens["refresh_token"]}
        )
    )[0] == 401

    # A new contract afterwards gives access back.
    await auth.billing(
        "billing.contract.concluded", contract_concluded("100001", contract_number="U/100001/2027")
    )
    unblocked = await auth.tap.payload("auth.account.unblocked", client_number="100001")
    assert unblocked["by"] == "system"
    assert (await auth.login("100001", PASSWORD))[0] == 201


async def test_a_new_contract_before_the_date_cancels_the_block(auth: Auth) -> None:
    await auth.client_with_invoice("100001")
    await auth.customer("100001", PASSWORD)
    await auth.billing("billing.contract.terminated", _terminated("100001", "2026-10-31"))
    await auth.tap.payload("auth.account.block_scheduled", client_number="100001")
    await auth.billing(
        "billing.contract.concluded", contract_concluded("100001", contract_number="U/100001/2026")
    )
    await auth.eventually_audited("account.block_cancelled")
    clock.freeze(dt.datetime(2026, 12, 31, 12, 0, tzinfo=LOCAL_TZ))
    await scheduler.tick(auth.app)
    assert await auth.pool.fetchval("SELECT status FROM accounts") == "active"


async def test_grace_is_configurable_but_never_above_30_days(
    database: str, amqp_url: str, bus_prefix: str
) -> None:
    with pytest.raises(ConfigError, match="CONTRACT_BLOCK_GRACE_DAYS"):
        settings_for(database, amqp_url, bus_prefix, contract_block_grace_days=31)
    from tests.auth.harness import running_auth

    async with running_auth(database, amqp_url, bus_prefix, contract_block_grace_days=14) as auth:
        await auth.client_with_invoice("100001")
        await auth.customer("100001", PASSWORD)
        await auth.billing("billing.contract.terminated", _terminated("100001", "2026-10-31"))
        scheduled = await auth.tap.payload("auth.account.block_scheduled", client_number="100001")
        assert scheduled["block_on"] == "2026-11-14"
