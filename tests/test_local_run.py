"""``python -m deploy.local`` (what ``make run`` starts), as a real process beside any other
stack: its own ports, bus prefix, database names and Maildir. Everything comes up, answers
through the addresses it printed, and Ctrl-C (SIGINT) takes every child down with exit 0."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import uuid
from pathlib import Path

import aiohttp
from ebok_shared import db

from deploy.demo import demo_loader_installed
from deploy.local import READY
from deploy.plan import REPO, SERVICES, StackConfig
from tests.e2e.stack import free_base_port
from tests.support.infra import Services

COMPONENTS = ("gateway", *SERVICES, "web")
_ADDRESS = re.compile(r"^  (\S.*?)\s{2,}((?:http|smtp)://127\.0\.0\.1:\d+/?)")
_STARTED = re.compile(r"started (\S+) \(pid (\d+)\)")


class Stack:
    """The process and everything it printed, read as it comes so its pipe never fills."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self.ready = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            self.lines.append(line)
            if line == READY:
                self.ready.set()

    def tail(self, count: int = 60) -> str:
        return "\n".join(self.lines[-count:])

    def addresses(self) -> dict[str, str]:
        return {m[1]: m[2] for m in map(_ADDRESS.match, self.lines) if m}

    def child_pids(self) -> dict[str, int]:
        return {m[1]: int(m[2]) for m in map(_STARTED.search, self.lines) if m}


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"  # exited; only its parent's bookkeeping is left


async def test_local_run_comes_up_and_stops_cleanly_on_sigint(
    services: Services, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    db_prefix = f"ebok_lr{tag}_"
    base = free_base_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deploy.local",
        "--base-port",
        str(base),
        "--bus-prefix",
        f"lr{tag}.",
        "--db-prefix",
        db_prefix,
        "--ready-timeout",
        "150",
        cwd=REPO,
        env={
            **os.environ,
            "EBOK_LOCAL_PG_URL": services.pg_admin_dsn,
            "EBOK_LOCAL_AMQP_URL": services.amqp_url,
            "EBOK_LOCAL_MAILDIR": str(tmp_path / "mail"),
        },
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        limit=1 << 20,
    )
    stack = Stack(process)
    try:
        ready = asyncio.create_task(stack.ready.wait())
        ended = asyncio.create_task(process.wait())
        await asyncio.wait({ready, ended}, timeout=180, return_when=asyncio.FIRST_COMPLETED)
        ended.cancel()
        assert stack.ready.is_set(), f"the stack did not come up:\n{stack.tail()}"

        addresses = stack.addresses()
        pids = stack.child_pids()
        assert set(pids) == {*COMPONENTS, "smtp-sink", "payu-sandbox"}, stack.tail()
        moved = StackConfig(base_port=base)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            for name in COMPONENTS:
                label = {"gateway": "gateway (API)", "web": "portal (open this)"}.get(name, name)
                url = addresses[label]
                assert url == f"http://127.0.0.1:{moved.port(name)}/"
                async with http.get(url.rstrip("/") + "/health/ready") as response:
                    assert response.status == 200, (name, await response.text())
            async with http.get(addresses["SMTP sink (mail)"]) as response:
                assert response.status == 200
                assert "Poczta testowa e-BOK" in await response.text()
            sandbox = addresses["payment sandbox"]
            assert sandbox == f"http://127.0.0.1:{moved.port('payu-sandbox')}/"
            async with http.get(sandbox + "health/ready") as response:
                assert response.status == 200
        assert (tmp_path / "mail" / "new").is_dir()
        if demo_loader_installed():
            assert any(line.startswith("    client number") for line in stack.lines), stack.tail()

        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), timeout=90)
        await asyncio.wait_for(stack.reader, timeout=10)
        assert code == 0, stack.tail()
        assert any(line.endswith("all stopped") for line in stack.lines), stack.tail()
        left = [name for name, pid in pids.items() if not _gone(pid)]
        assert not left, f"still running after the parent exited: {left}"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        for pid in stack.child_pids().values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        stack.reader.cancel()
        for name in (c for c in COMPONENTS if c != "web"):
            await db.drop_database(services.pg_admin_dsn, f"{db_prefix}{name}")
