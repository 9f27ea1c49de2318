"""Graceful shutdown of a real service process: SIGTERM drains in-flight requests, then exits 0.

The probe service runs as ``python -m tests.support.probe_service``; its JSON log lines on
stdout tell the test when a request is inside its handler and when shutdown has begun, so
no step waits on a guessed delay. The only clock is the exit bound: EBOK_SHUTDOWN_TIMEOUT
plus a margin for closing the pool and the broker connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SHUTDOWN_TIMEOUT = 5.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ProbeProcess:
    def __init__(
        self, proc: asyncio.subprocess.Process, port: int, shutdown_timeout: float
    ) -> None:
        self.proc = proc
        self.port = port
        self.shutdown_timeout = shutdown_timeout
        self.lines: list[dict[str, Any]] = []
        self.stderr = b""
        self._seen = asyncio.Condition()
        self.readers = [
            asyncio.create_task(self._read_stdout()),
            asyncio.create_task(self._read_stderr()),
        ]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            with contextlib.suppress(ValueError):
                line = json.loads(raw)
                async with self._seen:
                    self.lines.append(line)
                    self._seen.notify_all()

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        self.stderr = await self.proc.stderr.read()

    async def logged(self, event: str) -> dict[str, Any]:
        """Wait for the log line ``event`` (bounded: a hang fails the test, it never blocks it)."""

        def find() -> dict[str, Any] | None:
            return next((line for line in self.lines if line.get("event") == event), None)

        async with self._seen:
            await asyncio.wait_for(self._seen.wait_for(find), timeout=30)
        found = find()
        assert found is not None
        return found

    async def until_live(self, session: aiohttp.ClientSession) -> None:
        for _ in range(300):
            if self.proc.returncode is not None:
                pytest.fail(f"probe exited {self.proc.returncode}: {self.stderr.decode()}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(self.url("/health/live")) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
        pytest.fail("probe did not start")

    async def exit_code(self, within: float | None = None) -> int:
        """The exit code, once the process ends; ``within`` seconds at most (default: ample)."""
        limit = self.shutdown_timeout + 10 if within is None else within
        code = await asyncio.wait_for(self.proc.wait(), timeout=limit)
        await asyncio.gather(*self.readers)
        return code


@pytest.fixture
async def probe(
    request: pytest.FixtureRequest, database: str, amqp_url: str, bus_prefix: str
) -> AsyncIterator[ProbeProcess]:
    """The probe as a process of its own; an indirect parameter sets its shutdown timeout."""
    timeout: float = getattr(request, "param", DEFAULT_SHUTDOWN_TIMEOUT)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EBOK_")}
    env |= {
        "EBOK_DATABASE_URL": database,
        "EBOK_AMQP_URL": amqp_url,
        "EBOK_BUS_PREFIX": bus_prefix,
        "EBOK_HTTP_HOST": "127.0.0.1",
        "EBOK_HTTP_PORT": str(port),
        "EBOK_LOG_LEVEL": "INFO",
        "EBOK_SHUTDOWN_TIMEOUT": str(timeout),
        "EBOK_JWKS_URL": "http://127.0.0.1:9/none",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.probe_service",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    process = ProbeProcess(proc, port, timeout)
    try:
        async with aiohttp.ClientSession() as session:
            await process.until_live(session)
        yield process
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await asyncio.gather(*process.readers, return_exceptions=True)


async def _connection_refused(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return True
    writer.close()
    return False


async def test_sigterm_lets_the_in_flight_request_finish(probe: ProbeProcess) -> None:
    async with aiohttp.ClientSession() as session:
        in_flight = asyncio.create_task(session.get(probe.url("/probe/drain?seconds=1")))
        await probe.logged("drain request started")

        probe.proc.send_signal(signal.SIGTERM)
        await probe.logged("probe shutting down")
        # the listener is closed before shutdown hooks run: no new connection gets in
        assert await _connection_refused(probe.port)

        resp = await in_flight
        assert resp.status == 200
        assert await resp.json() == {"drained": True}
    assert await probe.exit_code() == 0
    events = [line.get("event") for line in probe.lines]
    assert events.index("probe shutting down") < events.index("drain request finished")
    assert probe.stderr == b""


async def test_sigterm_mid_request_answers_then_exits(probe: ProbeProcess) -> None:
    async with aiohttp.ClientSession() as session:
        in_flight = asyncio.create_task(session.get(probe.url("/probe/slow?seconds=1.5")))
        await probe.logged("slow request started")
        probe.proc.send_signal(signal.SIGTERM)
        resp = await in_flight
        assert resp.status == 200
        assert await resp.json() == {"slept": 1.5}
    assert await probe.exit_code() == 0
    assert await _connection_refused(probe.port)


@pytest.mark.parametrize("probe", [3.0], indirect=True, ids=["timeout=3s"])
async def test_a_request_longer_than_the_timeout_does_not_hold_the_exit(
    probe: ProbeProcess,
) -> None:
    async with aiohttp.ClientSession() as session:
        in_flight = asyncio.create_task(session.get(probe.url("/probe/slow?seconds=120")))
        await probe.logged("slow request started")
        probe.proc.send_signal(signal.SIGTERM)
        # EBOK_SHUTDOWN_TIMEOUT bounds the drain; 2.5 s more is ample for closing the pool
        # and the broker connection, and still short of the 2 x 3 s aiohttp alone would wait.
        assert await probe.exit_code(within=probe.shutdown_timeout + 2.5) == 0
        with pytest.raises(aiohttp.ClientError):
            await in_flight
