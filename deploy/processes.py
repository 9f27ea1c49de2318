"""Child processes of the local run: started in their own session, output prefixed with their
name, stopped with SIGTERM and, after a timeout, SIGKILL.

Each child gets a session (and so a process group) of its own, so Ctrl-C in a terminal reaches
only the parent, which then stops the children in its own order. Signals go to the child's
whole group, so anything a child started itself goes with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import TextIO

_LINE_LIMIT = 1 << 20  # a JSON log line with a long traceback must not break the reader


class Output:
    """Prints lines prefixed with a name, the names padded to one width."""

    def __init__(self, width: int, stream: TextIO | None = None) -> None:
        self.width = width
        self.stream = stream or sys.stdout

    def line(self, name: str, text: str) -> None:
        self.stream.write(f"{name:<{self.width}} | {text}\n")
        self.stream.flush()

    def plain(self, text: str = "") -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


class Child:
    """One child process with its output streamed, prefixed, and its last lines kept."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        output: Output,
        *,
        keep_lines: int = 30,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.output = output
        self.last_lines: deque[str] = deque(maxlen=keep_lines)
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def returncode(self) -> int | None:
        return self._process.returncode if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            *self.argv,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            limit=_LINE_LIMIT,
        )
        self._reader = asyncio.create_task(self._pump(), name=f"output:{self.name}")

    async def _pump(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        while True:
            try:
                raw = await self._process.stdout.readline()
            except ValueError:  # a line over the limit: keep going with the rest
                continue
            if not raw:
                return
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            self.last_lines.append(text)
            self.output.line(self.name, text)

    async def wait(self) -> int:
        """The exit code, once the process has ended and its output is all printed."""
        assert self._process is not None
        code = await self._process.wait()
        if self._reader is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._reader), timeout=5)
        return code

    def send(self, sig: signal.Signals) -> None:
        if not self.running:
            return
        assert self._process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, sig)

    def kill_now(self) -> None:
        """Last resort, usable without an event loop (e.g. in a ``finally``)."""
        self.send(signal.SIGKILL)


async def run_to_end(child: Child) -> int:
    """Start ``child``, wait for it and return its exit code; killed if we are cancelled."""
    await child.start()
    try:
        return await child.wait()
    except asyncio.CancelledError:
        child.kill_now()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(child.wait(), timeout=5)
        raise


async def terminate(
    children: Iterable[Child], timeout: float, hurry: asyncio.Event | None = None
) -> list[Child]:
    """SIGTERM every running child, wait up to ``timeout`` seconds (less if ``hurry`` is
    set), then SIGKILL whoever is left. Returns the children that had to be killed."""
    running = [c for c in children if c.running]
    for child in running:
        child.send(signal.SIGTERM)
    if not running:
        return []
    waits = [asyncio.ensure_future(c.wait()) for c in running]
    watchers: list[asyncio.Future[object]] = [asyncio.ensure_future(asyncio.gather(*waits))]
    if hurry is not None:
        watchers.append(asyncio.ensure_future(hurry.wait()))
    _done, pending = await asyncio.wait(
        watchers, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
    )
    for future in pending:
        future.cancel()
    killed = [c for c in running if c.running]
    for child in killed:
        child.kill_now()
    for child in killed:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(child.wait(), timeout=5)
    return killed
