"""Running a command or a server process from a test: the one ``run`` (its output, or a
failure showing what it printed) and the one ``free_port``."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel considers free now (bound and released at once)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def run(
    *argv: str | Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    cwd: Path | None = None,
    tail: int | None = 3000,
    error: type[Exception] = AssertionError,
) -> str:
    """``argv``'s standard output; ``error`` (naming the command, its status and the last
    ``tail`` characters of each output, or all of them) when it exits with another status
    than 0."""
    command = [str(a) for a in argv]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd
    )
    if done.returncode != 0:
        out, err = (
            (done.stdout, done.stderr)
            if tail is None
            else (
                done.stdout[-tail:],
                done.stderr[-tail:],
            )
        )
        raise error(f"{' '.join(command)} failed ({done.returncode}):\n{out}\n{err}")
    return done.stdout
