"""Private infrastructure for the system suite: a PostgreSQL cluster and RabbitMQ nodes of its
own, on free loopback ports in a temporary folder, so the nemesis can kill and restart them
without touching the machine's shared servers (or a developer's running stack).

PostgreSQL: ``initdb`` and ``pg_ctl`` from /usr/lib/postgresql/<newest>/bin (or PATH). Both
refuse to run as root, so as root they run as the ``postgres`` user (``runuser``), in a
folder that user owns. Trust authentication on 127.0.0.1 only.

RabbitMQ: ``rabbitmq-server`` with its own node name, AMQP and distribution ports, data and
log folders, an empty plugin list (no management, no prometheus: fewer ports, faster start),
its own configuration file (never /etc/rabbitmq's) and a raised open-file limit. The Erlang
cookie: Debian's wrappers (/usr/sbin/rabbitmq*) switch to the ``rabbitmq`` user and its
/var/lib/rabbitmq/.erlang.cookie; we call the real scripts in /usr/lib/rabbitmq/bin instead,
with HOME set to our folder holding a cookie of our own (mode 0400), for the server and for
every ``rabbitmqctl``: a node nobody else can talk to, and nobody else's we can.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.commands import free_port, run

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
PG_USER = "postgres"
START_TIMEOUT = 120.0  # seconds: a loaded 2-core machine starts an Erlang node slowly


class InfraUnavailable(RuntimeError):
    """The binaries are missing (PostgreSQL's server or RabbitMQ not installed here)."""


def require_binaries() -> None:
    """Raises InfraUnavailable unless both servers can be started on this machine."""
    _pg_bin()
    _require_rabbit()


def free_port_below(limit: int) -> int:
    """A free port whose value + 10000 (the CLI's distribution range) stays a valid port."""
    for _ in range(200):
        port = free_port()
        if port < limit:
            return port
        with contextlib.suppress(OSError), socket.socket() as probe:
            candidate = 20000 + secrets.randbelow(limit - 20000)
            probe.bind(("127.0.0.1", candidate))
            return candidate
    raise RuntimeError("no free port")


def _wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), 1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing on 127.0.0.1:{port} after {timeout:.0f} s") from None
            time.sleep(0.2)


# -- PostgreSQL ---------------------------------------------------------------------------------


def _pg_bin() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    raise InfraUnavailable("pg_ctl not found (/usr/lib/postgresql/*/bin or PATH)")


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary folder of its own (directly in the system's
    temporary directory: as root the ``postgres`` user must reach it, and pytest's folders
    are private to us) on a free port; ``start``/``stop``/``restart`` it."""

    def __init__(self, max_connections: int = 200) -> None:
        self.bin = _pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="ebok-system-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.max_connections = max_connections
        self._as_root = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str | Path, timeout: float = START_TIMEOUT) -> None:
        command = [str(a) for a in argv]
        if self._as_root:
            command = ["runuser", "-u", PG_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
                f"\n{self._log_tail()}"
            )

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text("utf-8", errors="replace").splitlines()[-20:])
        return ""

    def init(self) -> None:
        if self._as_root:
            user = pwd.getpwnam(PG_USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run(
            self.bin / "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            f" -c max_connections={self.max_connections} -c shared_buffers=32MB"
            # The nemesis crashes the server (``stop("immediate")``), never the machine: fsync
            # may be off, but every commit must be in the WAL before it is acknowledged, as in
            # production (synchronous_commit=off lost an acknowledged case in such a crash).
            " -c fsync=off -c full_page_writes=off -c synchronous_commit=on"
        )
        self._run(
            self.bin / "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
            "-t", str(int(START_TIMEOUT)), "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """``fast`` (connections ended, clean shutdown) or ``immediate`` (a crash: recovery on
        the next start)."""
        self._run(self.bin / "pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def restart(self, mode: str = "immediate") -> None:
        self.stop(mode)
        self.start()

    def remove(self) -> None:
        with contextlib.suppress(Exception):
            if self.running():
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()


# -- RabbitMQ -----------------------------------------------------------------------------------


def _raise_open_files() -> None:
    """In the broker's child process: the open-file limit as high as the hard limit allows
    (the broker sizes its handle cache from it; each quorum queue reserves a few)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


@dataclass
class RabbitNode:
    """One RabbitMQ node of ours: ``name@localhost`` on its own ports and folders."""

    root: Path
    name: str = field(default_factory=lambda: f"ebok{uuid.uuid4().hex[:10]}")
    port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=lambda: free_port_below(55000))
    cluster_with: Sequence[str] = ()  # other nodes' names: joins them when it first boots
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def node(self) -> str:
        return f"{self.name}@localhost"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def folder(self) -> Path:
        return self.root / self.name

    def env(self) -> dict[str, str]:
        """What the server and its CLI see: this node's name, ports, folders, cookie."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=str(self.root),  # .erlang.cookie is there
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.folder / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.folder / "log"),
            RABBITMQ_CONFIG_FILE=str(self.folder / "rabbitmq.conf"),
            RABBITMQ_CONF_ENV_FILE=str(self.folder / "rabbitmq-env.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.folder / "enabled_plugins"),
            RABBITMQ_PID_FILE=str(self.folder / "rabbit.pid"),
            ERL_EPMD_ADDRESS="127.0.0.1",
        )
        return env

    def _write_files(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        cookie = self.root / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(secrets.token_hex(20).upper())
            cookie.chmod(0o400)
        config = [
            "listeners.tcp.default = 127.0.0.1:" + str(self.port),
            "loopback_users = none",
            "log.console = false",
            "log.file.level = warning",
            # Our temporary folder lives on a shared disk: never stop publishers for it.
            "disk_free_limit.absolute = 50MB",
        ]
        if self.cluster_with:
            config.append("cluster_formation.peer_discovery_backend = classic_config")
            for k, other in enumerate(self.cluster_with, start=1):
                config.append(f"cluster_formation.classic_config.nodes.{k} = {other}")
        (self.folder / "rabbitmq.conf").write_text("\n".join(config) + "\n")
        (self.folder / "rabbitmq-env.conf").write_text("")
        (self.folder / "enabled_plugins").write_text("[].\n")

    def start(self, wait: bool = True) -> None:
        self._write_files()
        log = (self.folder / "server.out").open("ab")
        self._process = subprocess.Popen(
            [str(RABBIT_BIN / "rabbitmq-server")],
            env=self.env(),
            cwd=self.folder,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_raise_open_files,
        )
        log.close()
        if wait:
            self.await_startup()

    def await_startup(self) -> None:
        """Until the node has booted (``await_startup`` fails at once while the node is not
        yet registered with epmd, so it is asked again)."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.ctl("await_startup", "--timeout", "30", timeout=60)
                break
            except RuntimeError:
                if self._process is None or self._process.poll() is not None:
                    raise RuntimeError(f"{self.node} ended:\n{self.log_tail()}") from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        _wait_port(self.port, 30)

    def log_tail(self) -> str:
        lines: list[str] = []
        for path in [self.folder / "server.out", *sorted((self.folder / "log").glob("*.log"))]:
            with contextlib.suppress(OSError):
                lines += path.read_text("utf-8", errors="replace").splitlines()[-15:]
        return "\n".join(lines)

    def ctl(self, *args: str, timeout: float = 60) -> str:
        return run(
            RABBIT_BIN / "rabbitmqctl",
            "-q",
            "-n",
            self.node,
            *args,
            env=self.env(),
            timeout=timeout,
            tail=None,
            error=RuntimeError,
        )

    def stop(self) -> None:
        """A clean stop (the node leaves nothing behind but its data folder)."""
        if self._process is None or self._process.poll() is not None:
            return
        with contextlib.suppress(Exception):
            self.ctl("stop", timeout=60)
        self._wait_exit(30)

    def kill(self) -> None:
        """SIGKILL the node's whole process group (beam, epmd it started, heart): a crash."""
        if self._process is None or self._process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._wait_exit(30)

    def _wait_exit(self, timeout: float) -> None:
        assert self._process is not None
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(10)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None


def _require_rabbit() -> None:
    if not (RABBIT_BIN / "rabbitmq-server").exists():
        raise InfraUnavailable(f"{RABBIT_BIN}/rabbitmq-server not found")


@contextlib.contextmanager
def private_rabbit(root: Path) -> Iterator[RabbitNode]:
    _require_rabbit()
    node = RabbitNode(root)
    try:
        node.start()
        yield node
    finally:
        node.kill()
        shutil.rmtree(node.folder, ignore_errors=True)


@contextlib.contextmanager
def rabbit_cluster(root: Path, size: int = 3) -> Iterator[list[RabbitNode]]:
    """``size`` nodes clustered with classic-config peer discovery: the first boots alone,
    the others find it and join (all at once: they join the running node, not each other)."""
    _require_rabbit()
    nodes = [RabbitNode(root) for _ in range(size)]
    names = [n.node for n in nodes]
    for node in nodes:
        node.cluster_with = names
    try:
        nodes[0].start()
        for node in nodes[1:]:
            node.start(wait=False)
        for node in nodes[1:]:
            node.await_startup()
        yield nodes
    finally:
        for node in nodes:
            node.kill()
        for node in nodes:
            shutil.rmtree(node.folder, ignore_errors=True)
