"""The background-loop helper: one error policy (logged with the loop's name, retried, never
spinning), a prompt stop at shutdown, passes at the interval, and LISTEN waking a pass."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from ebok_shared import loops


class Warnings:
    """Stands in for the module's logger: what the loops warned about."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.seen.append((event, fields))

    error = warning


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Warnings]:
    recorder = Warnings()
    monkeypatch.setattr(loops, "log", recorder)
    yield recorder


async def test_a_failing_pass_is_logged_with_the_loops_name_and_retried(
    warnings: Warnings,
) -> None:
    passes: list[float] = []

    async def step() -> None:
        passes.append(time.monotonic())
        if len(passes) == 1:
            raise OSError("database away")

    async with loops.running("probe", loops.every("probe-loop", 0.05, step)) as task:
        await _until(lambda: len(passes) >= 3)
        assert not task.done()  # the loop survived its failure
    assert len(warnings.seen) == 1
    event, fields = warnings.seen[0]
    assert fields["loop"] == "probe-loop"
    assert "database away" in fields["error"]
    assert "retry" in event


async def test_passes_come_at_the_interval_and_a_failing_loop_does_not_spin(
    warnings: Warnings,
) -> None:
    passes: list[float] = []

    async def step() -> None:
        passes.append(time.monotonic())
        raise RuntimeError("always")

    async with loops.running("probe", loops.every("probe", lambda: 0.1, step)):
        await asyncio.sleep(0.55)
    assert 4 <= len(passes) <= 7, passes
    gaps = [b - a for a, b in itertools.pairwise(passes)]
    assert min(gaps) >= 0.09, gaps
    assert len(warnings.seen) == len(passes)


async def test_shutdown_stops_a_sleeping_loop_promptly() -> None:
    passes: list[int] = []

    async def step() -> None:
        passes.append(1)

    app = web.Application()
    app.cleanup_ctx.append(loops.background("probe", lambda _app: loops.every("probe", 3600, step)))
    runner = web.AppRunner(app)
    await runner.setup()
    await asyncio.sleep(0.05)
    assert passes == [1]
    tasks = [t for t in asyncio.all_tasks() if t.get_name() == "probe"]
    assert len(tasks) == 1
    started = time.monotonic()
    await runner.cleanup()
    assert time.monotonic() - started < 1
    assert tasks[0].cancelled()


async def test_a_notification_wakes_the_loop(database: str, warnings: Warnings) -> None:
    passes: list[int] = []
    payloads: list[str] = []
    connected: list[int] = []

    async def step() -> None:
        passes.append(1)

    loop = loops.listen(
        "probe",
        database,
        ["probe_wake"],
        step,
        on_notify={"probe_payload": payloads.append},
        on_connect=lambda: connected.append(1),
    )
    conn = await asyncpg.connect(database)
    try:
        async with loops.running("probe", loop):
            await _until(lambda: passes == [1])  # once, as soon as it listens
            await asyncio.sleep(0.2)
            assert passes == [1]  # no timeout: nothing more without a notification
            await conn.execute("NOTIFY probe_wake")
            await _until(lambda: len(passes) == 2)
            await conn.execute("NOTIFY probe_payload, 'client-7'")
            await _until(lambda: payloads == ["client-7"])
            assert len(passes) == 2  # a callback channel does not wake a pass
    finally:
        await conn.close()
    assert connected == [1]
    assert warnings.seen == []


async def test_a_listen_loop_that_fails_reconnects_after_a_pause(
    database: str, warnings: Warnings
) -> None:
    passes: list[float] = []
    connected: list[int] = []

    async def step() -> None:
        passes.append(time.monotonic())
        if len(passes) == 1:
            raise OSError("lost")

    loop = loops.listen(
        "probe-listen", database, ["probe_wake"], step, on_connect=lambda: connected.append(1)
    )
    async with loops.running("probe", loop):
        await _until(lambda: len(passes) == 2, within=5)
    assert connected == [1, 1]  # a new connection, LISTENing again
    assert passes[1] - passes[0] >= loops.RECONNECT_FIRST * 0.9
    assert [f["loop"] for _, f in warnings.seen] == ["probe-listen"]


async def test_a_listen_loop_with_a_timeout_passes_without_notifications(database: str) -> None:
    passes: list[int] = []

    async def step() -> None:
        passes.append(1)

    async with loops.running("probe", loops.listen("p", database, ["w"], step, timeout=0.1)):
        await _until(lambda: len(passes) >= 3)


async def _until(condition: Any, within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_a_listen_loop_whose_connection_is_ended_by_the_server_listens_again(
    database: str, warnings: Warnings
) -> None:
    """The server ends the LISTEN connection (``pg_terminate_backend``, as a PostgreSQL restart
    or a DBA does) while the loop waits for a notification: the loop must notice, reconnect,
    make a pass (what it missed) and be woken by the next notification. (Found by the system
    fault suite: a gateway stuck on a dead LISTEN connection kept a blocked customer's token.)"""
    passes: list[int] = []
    connected: list[int] = []

    async def step() -> None:
        passes.append(1)

    loop = loops.listen(
        "probe-ended", database, ["probe_wake"], step, on_connect=lambda: connected.append(1)
    )
    conn = await asyncpg.connect(database)
    try:
        async with loops.running("probe", loop):
            await _until(lambda: passes == [1])
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            await _until(lambda: connected == [1, 1], within=5)  # a new connection
            await _until(lambda: len(passes) == 2)  # the pass for what it may have missed
            await conn.execute("NOTIFY probe_wake")
            await _until(lambda: len(passes) == 3)
    finally:
        await conn.close()
    assert [f["loop"] for _, f in warnings.seen] == ["probe-ended"]


async def test_a_loop_that_ignores_its_cancellation_does_not_hold_the_shutdown(
    warnings: Warnings,
) -> None:
    """A loop that swallows its cancellation (a bug) is left behind after ``stop_within``,
    with an error naming it: the process's exit is bounded."""
    release = asyncio.Event()

    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                await release.wait()  # the bug: goes on after being cancelled

    async with loops.running("stubborn", stubborn(), stop_within=0.2) as task:
        await asyncio.sleep(0)
    assert not task.done()
    assert warnings.seen == [
        ("background loop did not stop in time; left behind", {"loop": "stubborn"})
    ]
    task.cancel()
    release.set()
    await asyncio.wait({task})
    assert task.cancelled()


async def test_a_listen_loops_session_ends_before_its_connection_closes(database: str) -> None:
    """What a connection holds (here a session advisory lock) is given back by the session's
    exit, on that open connection, when the loop is cancelled at shutdown."""
    seen: list[str] = []
    passes: list[int] = []

    @contextlib.asynccontextmanager
    async def holding_a_lock(conn: asyncpg.Connection) -> AsyncIterator[None]:
        await conn.execute("SELECT pg_advisory_lock(4242)")
        seen.append("locked")
        try:
            yield
        finally:
            seen.append("open" if not conn.is_closed() else "closed")
            await conn.execute("SELECT pg_advisory_unlock(4242)")
            seen.append("unlocked")

    async def step(conn: asyncpg.Connection) -> None:
        passes.append(await conn.fetchval("SELECT 1"))

    loop = loops.listen_on("probe-session", database, ["w"], step, session=holding_a_lock)
    async with loops.running("probe", loop):
        await _until(lambda: passes == [1])
    assert seen == ["locked", "open", "unlocked"]
