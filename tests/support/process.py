"""A service as a real process (``python -m ebok_<name> serve``) on a free port, awaited on
``/health/ready``, its output kept (for the log checks and the benchmarks)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

import aiohttp

from tests.support.commands import free_port


@dataclass
class ServiceProcess:
    url: str
    output: list[str] = field(default_factory=list)
    pid: int | None = None  # for the benchmark's CPU time


@contextlib.asynccontextmanager
async def service_process(
    service: str, env: Mapping[str, str], *, ready_within: float = 30.0
) -> AsyncIterator[ServiceProcess]:
    port = free_port()
    full_env = {**os.environ, "EBOK_HTTP_HOST": "127.0.0.1", "EBOK_HTTP_PORT": str(port), **env}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"ebok_{service}",
        "serve",
        env=full_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    running = ServiceProcess(f"http://127.0.0.1:{port}", pid=proc.pid)

    async def read() -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            running.output.append(line.decode(errors="replace"))

    reader = asyncio.create_task(read())
    try:
        async with aiohttp.ClientSession() as http:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + ready_within
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(running.url + "/health/ready") as resp:
                        if resp.status == 200:
                            break
                if proc.returncode is not None or loop.time() > deadline:
                    raise RuntimeError(
                        f"{service} did not start:\n" + "".join(running.output[-20:])
                    )
                await asyncio.sleep(0.1)
        yield running
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await reader


@dataclass(frozen=True)
class Completed:
    code: int
    out: str
    err: str


async def service_command(
    service: str, *args: str, env: Mapping[str, str], timeout: float = 120.0
) -> Completed:
    """``python -m ebok_<service> <args>`` run to its end as an operator runs it (``env`` on
    top of this process's variables): its exit code and what it printed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"ebok_{service}",
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return Completed(proc.returncode, out.decode(), err.decode())
