"""Finding (or, with Docker, starting) PostgreSQL and RabbitMQ for the tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import pytest
from ebok_shared import db

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"


@dataclass(frozen=True)
class Services:
    pg_admin_dsn: str
    amqp_url: str  # points at this session's own vhost


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def dsn_for(admin_dsn: str, database: str) -> str:
    parts = urlsplit(admin_dsn)
    return urlunsplit(parts._replace(path="/" + database))


# Each quorum queue reserves about three of the broker's file handles, and the broker sizes
# its handle cache from its own open-file limit at start: Debian's rabbitmq-server started by
# hand (``ulimit -n`` 1024) allows 927 handles, so about 300 quorum queues. Past that every
# call that needs a handle (a new vhost, a connection) waits for one for ever: the broker
# keeps its port open and stops answering. A test session holds more queues than that at
# times, so it widens the cache of a local broker whose limit is that low. The handles are
# reserved, not opened (the broker holds a few dozen descriptors at most in a whole run).
BROKER_HANDLES_WANTED = 16_000


def _rabbitmqctl(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=timeout, check=True
    )


def _widen_broker_handles() -> None:
    limit = _rabbitmqctl("eval", "file_handle_cache:get_limit().").stdout.strip()
    if limit.isdigit() and int(limit) < BROKER_HANDLES_WANTED:
        _rabbitmqctl("eval", f"file_handle_cache:set_limit({BROKER_HANDLES_WANTED}).")


def _remove_stale_vhosts() -> None:
    """Vhosts of test sessions that died without cleaning up (their process is gone)."""
    for vhost in _rabbitmqctl("list_vhosts", "name").stdout.split():
        owner = vhost.split("_")[2] if vhost.startswith(VHOST_PREFIX) else ""
        if owner.isdigit() and not _alive(int(owner)):
            with contextlib.suppress(subprocess.SubprocessError):
                _rabbitmqctl("delete_vhost", vhost)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


VHOST_PREFIX = "ebok_test_"


@contextlib.contextmanager
def _session_vhost(amqp_url: str) -> Iterator[str]:
    """A vhost of our own when rabbitmqctl is at hand; otherwise the given one (tests still
    keep apart by their queue prefixes)."""
    parts = urlsplit(amqp_url)
    if shutil.which("rabbitmqctl") is None or parts.hostname not in ("127.0.0.1", "localhost"):
        yield amqp_url
        return
    _widen_broker_handles()
    _remove_stale_vhosts()
    vhost = f"{VHOST_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:6]}"
    user = parts.username or "guest"
    try:
        _rabbitmqctl("add_vhost", vhost)
        _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        yield urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            _rabbitmqctl("delete_vhost", vhost)


def _listed(amqp_url: str, kind: str, *columns: str) -> list[list[str]] | None:
    """``rabbitmqctl list_<kind>`` of the URL's vhost, a row of ``columns`` per object; None
    when rabbitmqctl cannot tell."""
    vhost = unquote(urlsplit(amqp_url).path.lstrip("/")) or "/"
    if shutil.which("rabbitmqctl") is None:
        return None
    try:
        out = _rabbitmqctl(f"list_{kind}", "-p", vhost, *columns).stdout
    except subprocess.SubprocessError:
        return None
    return [row for row in map(str.split, out.splitlines()) if len(row) == len(columns)]


def bus_objects(amqp_url: str, prefix: str) -> tuple[list[str], list[str]]:
    """The queues and exchanges named with ``prefix`` in the URL's vhost (empty when
    rabbitmqctl cannot tell), so a whole stack can remove what its processes declared."""
    queues, exchanges = (_listed(amqp_url, kind, "name") or [] for kind in ("queues", "exchanges"))
    return (
        [n for [n] in queues if n.startswith(prefix)],
        [n for [n] in exchanges if n.startswith(prefix)],
    )


def undelivered(amqp_url: str, prefix: str) -> int | None:
    """Messages still in the queues named with ``prefix`` that a consumer of the stack takes
    (ready or delivered and not yet acknowledged; dead letters and the back office's queues
    left out); None when rabbitmqctl cannot tell."""
    rows = _listed(amqp_url, "queues", "name", "messages")
    if rows is None:
        return None
    return sum(
        int(count)
        for name, count in rows
        if name.startswith(prefix)
        and not name.endswith(".dlq")
        and not name.removeprefix(prefix).startswith("backoffice.")
    )


@contextlib.contextmanager
def provide() -> Iterator[Services]:
    pg = os.environ.get("EBOK_TEST_PG_DSN", DEFAULT_PG)
    amqp = os.environ.get("EBOK_TEST_AMQP_URL", DEFAULT_AMQP)
    with contextlib.ExitStack() as stack:
        missing = [
            n
            for n, u, p in (("PostgreSQL", pg, 5432), ("RabbitMQ", amqp, 5672))
            if not _reachable(u, p)
        ]
        if missing and _docker_available():
            from testcontainers.postgres import PostgresContainer
            from testcontainers.rabbitmq import RabbitMqContainer

            if "PostgreSQL" in missing:
                container = stack.enter_context(PostgresContainer("postgres:15"))
                pg = container.get_connection_url().replace("+psycopg2", "")
            if "RabbitMQ" in missing:
                rabbit = stack.enter_context(RabbitMqContainer("rabbitmq:3.13"))
                amqp = (
                    f"amqp://guest:guest@{rabbit.get_container_host_ip()}:"
                    f"{rabbit.get_exposed_port(5672)}/"
                )
        elif missing:
            pytest.exit(
                f"{' and '.join(missing)} not reachable ({pg if 'PostgreSQL' in missing else ''}"
                f" {amqp if 'RabbitMQ' in missing else ''}) and no Docker engine to start them. "
                "Start them (see README: PostgreSQL: pg_ctlcluster --skip-systemctl-redirect "
                "$(ls /etc/postgresql) main start; RabbitMQ: rabbitmq-server -detached) "
                "or set EBOK_TEST_PG_DSN / EBOK_TEST_AMQP_URL.",
                returncode=3,
            )
        vhost_url = stack.enter_context(_session_vhost(amqp))
        yield Services(pg_admin_dsn=pg, amqp_url=vhost_url)


@contextlib.asynccontextmanager
async def fresh_database(admin_dsn: str) -> AsyncIterator[str]:
    name = f"ebok_t_{uuid.uuid4().hex[:12]}"
    await db.ensure_database(admin_dsn, name)
    try:
        yield dsn_for(admin_dsn, name)
    finally:
        await db.drop_database(admin_dsn, name)
